package routing

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Config is the routing section.
type Config struct {
	// Rules are tried in order; the first that gives a target wins.
	Rules []Rule `yaml:"rules"`
}

// Rule kinds (Rule.Match).
const (
	// MatchOwner routes to the owner of the caller's CRM record: their
	// extension, or with target direct_number their direct number.
	MatchOwner = "owner"
	// MatchField routes callers whose record's Field holds one of Values.
	MatchField = "field"
	// MatchPrefix routes callers whose number starts with one of Prefixes.
	MatchPrefix = "prefix"
	// MatchNumber routes callers whose number is one of Numbers.
	MatchNumber = "number"
)

// Owner targets.
const (
	TargetExtension    = "extension"
	TargetDirectNumber = "direct_number"
)

// Rule is one routing rule.
type Rule struct {
	// Name names the rule in metrics and logs. Default: its match.
	Name string `yaml:"name"`
	// Match is owner, field, prefix or number.
	Match string `yaml:"match"`
	// Field and Values: for field rules, the record's field and the
	// values that match (as text: a choice column's number, "1").
	Field  string   `yaml:"field"`
	Values []string `yaml:"values"`
	// Prefixes: for prefix rules. A prefix starting with + is compared
	// with the caller's E.164 number, others with the digits as the PBX
	// presents them.
	Prefixes []string `yaml:"prefixes"`
	// Numbers: for number rules, in international or (with
	// default_region) national form.
	Numbers []string `yaml:"numbers"`
	// Target: for owner rules extension (default) or direct_number; for
	// the others the extension or number to route to.
	Target string `yaml:"target"`
	// WhenFree: only while the target user is not on a call (ringing or
	// talking, as the engine sees it).
	WhenFree bool `yaml:"when_free"`
}

// Directory is what validation needs to know of the users.
type Directory struct {
	// Users are the directory's extensions, with their direct numbers
	// ("" when none).
	Users map[string]string
	// Normalize reads a number in E.164 or, with a region, national form.
	Normalize func(string) (string, bool)
}

var (
	fieldRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	prefixRE = regexp.MustCompile(`^\+?[0-9]{1,15}$`)
	targetRE = regexp.MustCompile(`^\+?[0-9A-Za-z_.*#-]{1,32}$`)
)

// Validate returns every problem, joined, naming keys relative to the
// routing section (rules[0].target).
func (c Config) Validate(d Directory) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	names := map[string]int{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				bad(key+".name", "%q is also rules[%d].name", r.Name, j)
			}
			names[r.Name] = i
			if !fieldRE.MatchString(strings.ReplaceAll(r.Name, "-", "_")) {
				bad(key+".name", "%q: letters, digits, - and _", r.Name)
			}
		}
		unused := func(field string, set bool) {
			if set {
				bad(key+"."+field, "not used by a %s rule", r.Match)
			}
		}
		switch r.Match {
		case MatchOwner:
			unused("field", r.Field != "")
			unused("values", len(r.Values) > 0)
			unused("prefixes", len(r.Prefixes) > 0)
			unused("numbers", len(r.Numbers) > 0)
			if r.Target != "" && r.Target != TargetExtension && r.Target != TargetDirectNumber {
				bad(key+".target", "%q: for an owner rule, %s or %s", r.Target, TargetExtension, TargetDirectNumber)
			}
			continue // the target is the owner: always a user
		case MatchField:
			if !fieldRE.MatchString(r.Field) {
				bad(key+".field", "%q: want a field's logical name (accountcategorycode)", r.Field)
			}
			if len(r.Values) == 0 {
				bad(key+".values", "at least one value")
			}
			unused("prefixes", len(r.Prefixes) > 0)
			unused("numbers", len(r.Numbers) > 0)
		case MatchPrefix:
			if len(r.Prefixes) == 0 {
				bad(key+".prefixes", "at least one prefix")
			}
			for j, p := range r.Prefixes {
				if !prefixRE.MatchString(p) {
					bad(fmt.Sprintf("%s.prefixes[%d]", key, j), "%q: digits, optionally after a +", p)
				}
			}
			unused("field", r.Field != "")
			unused("values", len(r.Values) > 0)
			unused("numbers", len(r.Numbers) > 0)
		case MatchNumber:
			if len(r.Numbers) == 0 {
				bad(key+".numbers", "at least one number")
			}
			for j, n := range r.Numbers {
				if _, ok := normalize(d.Normalize, n); !ok {
					bad(fmt.Sprintf("%s.numbers[%d]", key, j), "%q is not a phone number (national form needs default_region)", n)
				}
			}
			unused("field", r.Field != "")
			unused("values", len(r.Values) > 0)
			unused("prefixes", len(r.Prefixes) > 0)
		case "":
			bad(key+".match", "required: owner, field, prefix or number")
			continue
		default:
			bad(key+".match", "%q: want owner, field, prefix or number", r.Match)
			continue
		}
		_, isUser := d.Users[r.Target]
		switch {
		case r.Target == "":
			bad(key+".target", "required: the extension or number to route to")
		case !targetRE.MatchString(r.Target):
			bad(key+".target", "%q: an extension or a number", r.Target)
		case r.WhenFree && !isUser:
			bad(key+".when_free", "target %q is not a user's extension (users[]): callbridge cannot tell whether it is on a call", r.Target)
		}
	}
	return errors.Join(errs...)
}

// normalize reads n as E.164: at once when it already is (the index skips
// the parser the same way), else with f.
func normalize(f func(string) (string, bool), n string) (string, bool) {
	if isE164(n) {
		return n, true
	}
	if f != nil {
		if e, ok := f(n); ok {
			return e, true
		}
	}
	if prefixRE.MatchString(n) && strings.HasPrefix(n, "+") && len(n) > 3 {
		return n, true
	}
	return "", false
}

// isE164 accepts "+" and 7 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
