package routing

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Record is the caller's CRM record, as the phone index holds it.
type Record struct {
	Connector string            // whose index found it
	Owner     string            // the CRM user (or team) owning it
	Fields    map[string]string // the entity's kept fields
}

// Records finds the caller's record.
type Records interface {
	// Find looks number up in the phone indexes. ready is false while no
	// index has data yet (the first sync is still running): a miss then
	// says nothing about the caller.
	Find(number string) (rec Record, found, ready bool)
}

// Owners maps a record's owner to a PBX user.
type Owners interface {
	// Extension is the extension of the user whom connector's CRM user
	// crmUser maps to.
	Extension(connector, crmUser string) (ext string, ok bool)
}

// Presence is the engine's live state of users.
type Presence interface {
	// OnCall says whether user has a call ringing or in progress.
	OnCall(user string) bool
}

// Deps are what the router answers from. Any of them may be nil: rules
// that need it then never match.
type Deps struct {
	Records  Records
	Owners   Owners
	Presence Presence
	// DirectNumbers has every user's extension, with their direct number
	// ("" when none): it also tells which targets are users.
	DirectNumbers map[string]string
	// Normalize reads numbers in E.164 or national form (default_region).
	Normalize  func(string) (string, bool)
	Registerer prometheus.Registerer // may be nil
}

// Results of a routing question, as counted in
// callbridge_routing_answers_total{result}.
const (
	ResultRouted   = "routed"    // a target was answered
	ResultNone     = "none"      // no rule matched (an unknown caller among them)
	ResultLoop     = "loop"      // the target was the called number itself
	ResultNotReady = "not_ready" // a record rule could not be asked: no index has data yet
	ResultError    = "error"     // a lookup failed; nothing answered
)

// Answer is the router's decision.
type Answer struct {
	Target string // "" for none
	Rule   string // the rule that gave it
	Result string // one of the Result constants
}

// Router answers routing questions. It is safe for concurrent use.
type Router struct {
	rules   []rule
	deps    Deps
	answers map[string]prometheus.Counter
}

type rule struct {
	Rule
	values   map[string]bool
	numbers  map[string]bool // E.164
	intl     []string        // prefixes with +
	national []string        // prefixes without
	record   bool            // needs the caller's record
}

// New compiles cfg, which must be valid (Config.Validate), and registers
// the answers' counter with deps.Registerer.
func New(cfg Config, deps Deps) (*Router, error) {
	r := compile(cfg, deps)
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbridge_routing_answers_total",
		Help: "Routing questions from the dialplan, by result (routed, none, loop, not_ready, error).",
	}, []string{"result"})
	for _, res := range []string{ResultRouted, ResultNone, ResultLoop, ResultNotReady, ResultError} {
		r.answers[res] = vec.WithLabelValues(res)
	}
	if deps.Registerer != nil {
		if err := deps.Registerer.Register(vec); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// With is a router compiled from cfg and deps that counts its answers
// where r does (a reload's new rules, deps.Registerer unused).
func (r *Router) With(cfg Config, deps Deps) *Router {
	n := compile(cfg, deps)
	n.answers = r.answers
	return n
}

func compile(cfg Config, deps Deps) *Router {
	r := &Router{deps: deps, answers: map[string]prometheus.Counter{}}
	for _, c := range cfg.Rules {
		ru := rule{Rule: c, record: c.Match == MatchOwner || c.Match == MatchField}
		if ru.Name == "" {
			ru.Name = c.Match
		}
		if c.Match == MatchOwner && ru.Target == "" {
			ru.Target = TargetExtension
		}
		if len(c.Values) > 0 {
			ru.values = map[string]bool{}
			for _, v := range c.Values {
				ru.values[v] = true
			}
		}
		if len(c.Numbers) > 0 {
			ru.numbers = map[string]bool{}
			for _, n := range c.Numbers {
				if e, ok := normalize(deps.Normalize, n); ok {
					ru.numbers[e] = true
				}
			}
		}
		for _, p := range c.Prefixes {
			if strings.HasPrefix(p, "+") {
				ru.intl = append(ru.intl, p)
			} else {
				ru.national = append(ru.national, p)
			}
		}
		r.rules = append(r.rules, ru)
	}
	return r
}

// Route answers where a call from anum to bnum goes. It never fails: a
// panic in a lookup is an Answer with ResultError.
func (r *Router) Route(anum, bnum string) (a Answer) {
	defer func() {
		if recover() != nil {
			a = Answer{Result: ResultError}
		}
		r.answers[a.Result].Inc()
	}()
	return r.route(anum, bnum)
}

func (r *Router) route(anum, bnum string) Answer {
	anum, bnum = strings.TrimSpace(anum), strings.TrimSpace(bnum)
	if anum == "" || len(anum) > 32 {
		return Answer{Result: ResultNone}
	}
	e164, _ := normalize(r.deps.Normalize, anum)
	digits := digitsOf(anum)
	var rec Record
	var looked, found, ready bool
	result := ResultNone
	for i := range r.rules {
		ru := &r.rules[i]
		target, user := "", ""
		if ru.record {
			if !looked {
				looked = true
				if r.deps.Records != nil {
					rec, found, ready = r.deps.Records.Find(anum)
				}
			}
			if !ready {
				result = ResultNotReady
				continue
			}
			if !found {
				continue
			}
		}
		switch ru.Match {
		case MatchOwner:
			if r.deps.Owners == nil || rec.Owner == "" {
				continue
			}
			ext, ok := r.deps.Owners.Extension(rec.Connector, rec.Owner)
			if !ok {
				continue
			}
			target, user = ext, ext
			if ru.Target == TargetDirectNumber {
				if target = r.deps.DirectNumbers[ext]; target == "" {
					continue
				}
			}
		case MatchField:
			if !ru.values[rec.Fields[ru.Field]] {
				continue
			}
			target = ru.Target
		case MatchPrefix:
			if !hasPrefix(e164, ru.intl) && !hasPrefix(digits, ru.national) {
				continue
			}
			target = ru.Target
		case MatchNumber:
			if e164 == "" || !ru.numbers[e164] {
				continue
			}
			target = ru.Target
		}
		if user == "" {
			if _, isUser := r.deps.DirectNumbers[target]; isUser {
				user = target
			}
		}
		if ru.WhenFree && user != "" && r.deps.Presence != nil && r.deps.Presence.OnCall(user) {
			continue
		}
		if r.same(target, bnum) {
			return Answer{Rule: ru.Name, Result: ResultLoop}
		}
		return Answer{Target: target, Rule: ru.Name, Result: ResultRouted}
	}
	return Answer{Result: result}
}

// same says whether target is the called number: the same text, or the
// same number once normalised.
func (r *Router) same(target, bnum string) bool {
	if target == bnum {
		return true
	}
	// Only numbers can be one number written two ways; an extension is
	// compared as text, and two E.164 strings already were.
	if len(digitsOf(target)) < 6 || len(digitsOf(bnum)) < 6 || isE164(target) && isE164(bnum) {
		return false
	}
	a, ok1 := normalize(r.deps.Normalize, target)
	b, ok2 := normalize(r.deps.Normalize, bnum)
	return ok1 && ok2 && a == b
}

func hasPrefix(s string, prefixes []string) bool {
	return s != "" && slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
