package crmsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// CallbacksConfig is the callbacks section: callers' requests to be called
// back, written to CRM queues.
type CallbacksConfig struct {
	// Subject is the subject of requests whose profile sets none, a
	// text/template over {{.Number}} and {{.Queue}}. Default
	// DefaultCallbackSubject.
	Subject string `yaml:"subject"`
	// Profiles say, per PBX queue, where its requests go.
	Profiles []CallbackProfile `yaml:"profiles"`
}

// CallbackProfile is one PBX queue's callback settings.
type CallbackProfile struct {
	// Queue is the PBX queue's name, as the dialplan sends it.
	Queue string `yaml:"queue"`
	// CRMQueue is the CRM queue the requests go to (Dynamics: the
	// queue's name or queueid).
	CRMQueue string `yaml:"crm_queue"`
	// Ownership is OwnerAPIUser (default) or OwnerQueue.
	Ownership string `yaml:"ownership"`
	// Subject overrides the global subject.
	Subject string `yaml:"subject"`
	// Duplicates is DuplicatesBundle (default) or DuplicatesIgnore.
	Duplicates string `yaml:"duplicates"`
}

// DefaultCallbackSubject is callbacks.subject's default.
const DefaultCallbackSubject = "Callback request from {{.Number}}"

// maxSubjectLen bounds a request's own subject.
const maxSubjectLen = 200

// Validate returns every problem, joined, naming keys relative to the
// callbacks section.
func (c CallbacksConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Subject != "" {
		if _, err := parseCallbackSubject(c.Subject); err != nil {
			bad("subject", "%v", err)
		}
	}
	seen := map[string]int{}
	for i, p := range c.Profiles {
		key := fmt.Sprintf("profiles[%d]", i)
		switch {
		case p.Queue == "":
			bad(key+".queue", "required")
		case strings.ContainsAny(p.Queue, " \t\r\n/?#&"):
			bad(key+".queue", "%q: no spaces or URL punctuation", p.Queue)
		default:
			if j, dup := seen[p.Queue]; dup {
				bad(key+".queue", "%q is also profiles[%d].queue", p.Queue, j)
			}
			seen[p.Queue] = i
		}
		if p.CRMQueue == "" {
			bad(key+".crm_queue", "required: the CRM queue the requests go to")
		}
		if p.Ownership != "" && p.Ownership != OwnerAPIUser && p.Ownership != OwnerQueue {
			bad(key+".ownership", "%q: want %s or %s", p.Ownership, OwnerAPIUser, OwnerQueue)
		}
		if p.Duplicates != "" && p.Duplicates != DuplicatesBundle && p.Duplicates != DuplicatesIgnore {
			bad(key+".duplicates", "%q: want %s or %s", p.Duplicates, DuplicatesBundle, DuplicatesIgnore)
		}
		if p.Subject != "" {
			if _, err := parseCallbackSubject(p.Subject); err != nil {
				bad(key+".subject", "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}

type subjectData struct{ Number, Queue string }

func parseCallbackSubject(text string) (*template.Template, error) {
	t, err := template.New("subject").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&strings.Builder{}, subjectData{Number: "+1", Queue: "q"}); err != nil {
		return nil, err
	}
	return t, nil
}

// Errors of Callbacks.Request.
var (
	ErrNoProfile   = errors.New("queue: no callback profile (callbacks.profiles)")
	ErrBadCallback = errors.New("bad callback request")
)

// CallbackRequest is a request as the API receives it.
type CallbackRequest struct {
	// ID is the caller's Idempotency-Key; empty: derived.
	ID          string
	Number      string
	Queue       string
	Subject     string
	RequestedAt time.Time // zero: now
}

// Callbacks queues callback requests for the connectors that take them.
type Callbacks struct {
	profiles map[string]CallbackProfile
	subjects map[string]*template.Template // by queue; "" the global one
	store    Store
	names    []string
	// Normalize gives a number's E.164 form (nil: none).
	Normalize func(string) (string, bool)
	// Now is the clock (tests may replace it).
	Now func() time.Time
}

// NewCallbacks checks cfg and returns the queue of callback requests for
// the connectors among conns that are CallbackWriters.
func NewCallbacks(cfg CallbacksConfig, store Store, conns []Connector) (*Callbacks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Callbacks{profiles: map[string]CallbackProfile{}, subjects: map[string]*template.Template{}, store: store, Now: time.Now}
	global := cfg.Subject
	if global == "" {
		global = DefaultCallbackSubject
	}
	c.subjects[""], _ = parseCallbackSubject(global)
	for _, p := range cfg.Profiles {
		if p.Ownership == "" {
			p.Ownership = OwnerAPIUser
		}
		if p.Duplicates == "" {
			p.Duplicates = DuplicatesBundle
		}
		c.profiles[p.Queue] = p
		if p.Subject != "" {
			c.subjects[p.Queue], _ = parseCallbackSubject(p.Subject)
		}
	}
	for _, cn := range conns {
		if _, ok := cn.(CallbackWriter); ok {
			c.names = append(c.names, cn.Name())
		}
	}
	return c, nil
}

// CallbackResult says what Request queued.
type CallbackResult struct {
	ID         string
	Connectors []string // queued for these
	Repeated   []string // these had the request already
}

// Request validates r, applies its queue's profile and queues it for every
// connector that takes callback requests, idempotent on its id.
func (c *Callbacks) Request(ctx context.Context, r CallbackRequest) (CallbackResult, error) {
	p, ok := c.profiles[r.Queue]
	switch {
	case r.Number == "" || len(r.Number) > 32 || strings.Trim(r.Number, "+0123456789 -()/.") != "":
		return CallbackResult{}, fmt.Errorf("%w: number: want a phone number", ErrBadCallback)
	case !ok:
		return CallbackResult{}, fmt.Errorf("%w: %q", ErrNoProfile, r.Queue)
	case utf8.RuneCountInString(r.Subject) > maxSubjectLen || !utf8.ValidString(r.Subject):
		return CallbackResult{}, fmt.Errorf("%w: subject: at most %d characters of UTF-8", ErrBadCallback, maxSubjectLen)
	case len(r.ID) > 128:
		return CallbackResult{}, fmt.Errorf("%w: Idempotency-Key: at most 128 bytes", ErrBadCallback)
	}
	e164 := ""
	if c.Normalize != nil {
		e164, _ = c.Normalize(r.Number)
	}
	if r.RequestedAt.IsZero() {
		r.RequestedAt = c.Now()
	}
	r.RequestedAt = r.RequestedAt.UTC().Truncate(time.Millisecond)
	id := r.ID
	if id == "" {
		num := e164
		if num == "" {
			num = r.Number
		}
		h := sha256.Sum256([]byte(num + "\x00" + r.Queue + "\x00" + r.RequestedAt.Format(time.RFC3339Nano)))
		id = hex.EncodeToString(h[:16])
	}
	subject := r.Subject
	if subject == "" {
		t := c.subjects[r.Queue]
		if t == nil {
			t = c.subjects[""]
		}
		var b strings.Builder
		num := e164
		if num == "" {
			num = r.Number
		}
		if err := t.Execute(&b, subjectData{Number: num, Queue: r.Queue}); err != nil {
			return CallbackResult{}, fmt.Errorf("subject: %w", err)
		}
		subject = b.String()
	}
	cb := Callback{ID: id, Number: r.Number, E164: e164, Queue: r.Queue, CRMQueue: p.CRMQueue, Subject: subject,
		RequestedAt: r.RequestedAt, Ownership: p.Ownership, Duplicates: p.Duplicates}
	res := CallbackResult{ID: id}
	for _, name := range c.names {
		added, err := c.store.EnqueueJob(ctx, name, Job{Task: &Task{ID: "callback:" + id, Callback: &cb}}, time.Time{})
		if err != nil {
			return res, fmt.Errorf("queue the request for %s: %w", name, err)
		}
		if added {
			res.Connectors = append(res.Connectors, name)
		} else {
			res.Repeated = append(res.Repeated, name)
		}
	}
	return res, nil
}
