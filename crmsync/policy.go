package crmsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/promreg"
)

// Reasons an activity is not synced, as counted in
// callbridge_policy_dropped_total{reason}.
const (
	DropInvalid           = "invalid"            // no id or user: the engine should never emit it
	DropPrivacy           = "privacy"            // not a work call
	DropCRMInactive       = "crm_inactive"       // the user's CRM sync is off
	DropInternal          = "internal"           // internal calls are not synced
	DropAnsweredElsewhere = "answered_elsewhere" // rang while a colleague answered
	DropDurationLimit     = "duration_limit"     // connected, talk shorter than the limit
	DropStartMargin       = "start_margin"       // duplicate of an accepted activity
)

// Screen-pop choices.
const (
	PopOnCall      = "call"      // open: when the phone rings
	PopOnConnected = "connected" // open/close: when the call is connected
	PopNever       = "none"      // close: leave it open
	PopUser        = "user"      // open outgoing: only calls placed through callbridge's click-to-dial
	PopAlways      = "always"    // open outgoing: also calls dialled on the phone
)

// PolicyConfig is the policy part of the configuration: module defaults and
// per-user overrides, as CRM admins know them.
type PolicyConfig struct {
	// DurationLimit: connected calls whose talk time is shorter are not
	// synced (Enreach CallDurationLimit). 0 syncs all.
	DurationLimit time.Duration `yaml:"duration_limit"`
	// StartMargin: an activity of the same user and remote number whose
	// start lies within ± this of an accepted one is a duplicate and not
	// synced (Enreach CallStartMargin). It also merges one call seen
	// through two sources. Two calls one source reports with different
	// call ids are never duplicates, however close their starts. 0 still
	// merges exactly equal starts.
	StartMargin time.Duration `yaml:"start_margin"`
	// SyncInternal syncs calls between two users. Default true.
	SyncInternal bool `yaml:"sync_internal"`
	// SyncAnsweredElsewhere syncs the activity of a user who rang while a
	// colleague answered (reason answered_elsewhere). Default false.
	SyncAnsweredElsewhere bool `yaml:"sync_answered_elsewhere"`
	// DefaultAssignee is the CRM user that activities of unmapped users
	// are assigned to. Empty: the connector's own default.
	DefaultAssignee string `yaml:"default_assignee"`
	// Defaults applies to every user; Users overrides it per extension.
	Defaults UserSettings            `yaml:"defaults"`
	Users    map[string]UserSettings `yaml:"users"`
}

// UserSettings are per-user settings. Empty or nil fields inherit the module
// default.
type UserSettings struct {
	// CRMActive: sync this user's calls at all. Default true.
	CRMActive *bool `yaml:"crm_active,omitempty"`
	// CRMUser is the user's id in the CRM (explicit mapping).
	CRMUser string `yaml:"crm_user,omitempty"`
	// Email maps the user to a CRM user by e-mail when CRMUser is empty:
	// a user's own wins over the directory's, which wins over the
	// defaults' (see EmailOf).
	Email     string    `yaml:"email,omitempty"`
	Templates Templates `yaml:"templates,omitempty"`
	ScreenPop ScreenPop `yaml:"screen_pop,omitempty"`
}

// Templates are the CRM's activity template codes per kind of call.
type Templates struct {
	Incoming           string `yaml:"incoming,omitempty"`
	Outgoing           string `yaml:"outgoing,omitempty"`
	MissedIncoming     string `yaml:"missed_incoming,omitempty"`
	UnacceptedOutgoing string `yaml:"unaccepted_outgoing,omitempty"`
}

// ScreenPop says when the agent's caller card opens and closes, and what
// it searches and opens per call type (internal/cards decides with it).
type ScreenPop struct {
	Open            string         `yaml:"open,omitempty"`          // call | connected
	Close           string         `yaml:"close,omitempty"`         // none | connected
	OpenOutgoing    string         `yaml:"open_outgoing,omitempty"` // user (click-to-dial only) | always
	CallerCardDelay *time.Duration `yaml:"caller_card_delay,omitempty"`
	Rules           ScreenPopRules `yaml:"rules,omitempty"`
}

// DefaultPolicyConfig is the policy of a fresh install.
func DefaultPolicyConfig() PolicyConfig {
	on := true
	zero := time.Duration(0)
	return PolicyConfig{
		SyncInternal: true,
		Defaults: UserSettings{
			CRMActive: &on,
			ScreenPop: ScreenPop{Open: PopOnCall, Close: PopNever, OpenOutgoing: PopUser, CallerCardDelay: &zero},
		},
	}
}

// Validate returns every problem, joined, each naming its key relative to
// the policy section (e.g. `users["101"].screen_pop.open`).
func (c PolicyConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.DurationLimit < 0 {
		bad("duration_limit", "must not be negative")
	}
	if c.StartMargin < 0 {
		bad("start_margin", "must not be negative")
	}
	if c.StartMargin > time.Hour {
		bad("start_margin", "at most 1h (starts are remembered for a limited time)")
	}
	c.Defaults.validate("defaults", bad)
	if c.Defaults.CRMUser != "" {
		// Nothing could read it: a CRM user for everyone is the
		// default assignee, which a user's own mapping still beats.
		bad("defaults.crm_user", "one CRM user for everybody is default_assignee: set that instead")
	}
	exts := make([]string, 0, len(c.Users))
	for ext := range c.Users {
		exts = append(exts, ext)
	}
	sort.Strings(exts)
	for _, ext := range exts {
		key := fmt.Sprintf("users[%q]", ext)
		if strings.TrimSpace(ext) == "" {
			bad(key, "extension must not be empty")
		}
		c.Users[ext].validate(key, bad)
	}
	c.validateScreenPops(bad)
	return errors.Join(errs...)
}

func (u UserSettings) validate(key string, bad func(key, format string, args ...any)) {
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		bad(key+".email", "%q is not an e-mail address", u.Email)
	}
	p := u.ScreenPop
	if p.Open != "" && p.Open != PopOnCall && p.Open != PopOnConnected {
		bad(key+".screen_pop.open", "%q: want %q or %q", p.Open, PopOnCall, PopOnConnected)
	}
	if p.Close != "" && p.Close != PopNever && p.Close != PopOnConnected {
		bad(key+".screen_pop.close", "%q: want %q or %q", p.Close, PopNever, PopOnConnected)
	}
	if p.OpenOutgoing != "" && p.OpenOutgoing != PopUser && p.OpenOutgoing != PopAlways {
		bad(key+".screen_pop.open_outgoing", "%q: want %q or %q", p.OpenOutgoing, PopUser, PopAlways)
	}
	if p.CallerCardDelay != nil && *p.CallerCardDelay < 0 {
		bad(key+".screen_pop.caller_card_delay", "must not be negative")
	}
	if p.CallerCardDelay != nil && *p.CallerCardDelay > time.Minute {
		bad(key+".screen_pop.caller_card_delay", "%s: at most 1m (a card opened later would miss most calls)", *p.CallerCardDelay)
	}
	p.Rules.validate(key+".screen_pop.rules", bad)
}

// Policy decides which activities are synced. It is safe for concurrent use.
type Policy struct {
	cfg     PolicyConfig
	store   Store
	dropped *prometheus.CounterVec
	passed  prometheus.Counter
	dir     atomic.Pointer[directory]
}

type directory struct {
	emailOf    map[string]string // extension -> e-mail
	crmByEmail map[string]string // lower-case e-mail -> CRM user id
}

// NewPolicy checks cfg and returns its policy. store backs the start-margin
// rule and is shared with the queue. reg may be nil.
func NewPolicy(cfg PolicyConfig, store Store, reg prometheus.Registerer) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("policy: store is required for the start-margin rule")
	}
	p := &Policy{
		cfg:   cfg,
		store: store,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_policy_dropped_total",
			Help: "Activities not synced, by the policy rule that dropped them.",
		}, []string{"reason"}),
		passed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_policy_accepted_total",
			Help: "Activities the policy accepted for delivery.",
		}),
	}
	for _, r := range []string{DropInvalid, DropPrivacy, DropCRMInactive, DropInternal, DropAnsweredElsewhere, DropDurationLimit, DropStartMargin} {
		p.dropped.WithLabelValues(r)
	}
	// Shared, not registered twice: a reload builds the policy again.
	if err := promreg.Share(reg, &p.dropped); err != nil {
		return nil, fmt.Errorf("policy metrics: %w", err)
	}
	if err := promreg.Share(reg, &p.passed); err != nil {
		return nil, fmt.Errorf("policy metrics: %w", err)
	}
	p.dir.Store(&directory{})
	return p, nil
}

// SetDirectory supplies the mapping by e-mail: the PBX's users (for their
// e-mail addresses) and a connector's user list (e-mail -> CRM user id).
// Explicit crm_user settings still win. Safe to call while deciding.
func (p *Policy) SetDirectory(users []bridge.User, crmUserByEmail map[string]string) {
	d := &directory{emailOf: map[string]string{}, crmByEmail: map[string]string{}}
	for _, u := range users {
		if u.Email != "" {
			d.emailOf[u.Extension] = u.Email
		}
	}
	for e, id := range crmUserByEmail {
		d.crmByEmail[strings.ToLower(strings.TrimSpace(e))] = id
	}
	p.dir.Store(d)
}

// settings merges the module defaults with user's overrides.
func (p *Policy) settings(user string) UserSettings {
	s := p.cfg.Defaults
	o, ok := p.cfg.Users[user]
	if !ok {
		return s
	}
	if o.CRMActive != nil {
		s.CRMActive = o.CRMActive
	}
	s.CRMUser = o.CRMUser // never inherited: a default CRM user is DefaultAssignee
	if o.Email != "" {
		s.Email = o.Email
	}
	pick := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&s.Templates.Incoming, o.Templates.Incoming)
	pick(&s.Templates.Outgoing, o.Templates.Outgoing)
	pick(&s.Templates.MissedIncoming, o.Templates.MissedIncoming)
	pick(&s.Templates.UnacceptedOutgoing, o.Templates.UnacceptedOutgoing)
	pick(&s.ScreenPop.Open, o.ScreenPop.Open)
	pick(&s.ScreenPop.Close, o.ScreenPop.Close)
	pick(&s.ScreenPop.OpenOutgoing, o.ScreenPop.OpenOutgoing)
	if o.ScreenPop.CallerCardDelay != nil {
		s.ScreenPop.CallerCardDelay = o.ScreenPop.CallerCardDelay
	}
	return s
}

// EmailOf is the e-mail user is mapped to a CRM user by: the user's own
// policy setting, else the directory's, else policy.defaults.email (a
// shared address, e.g. a team's CRM user, for users with none).
func (p *Policy) EmailOf(user string) string {
	if o := p.cfg.Users[user].Email; o != "" {
		return o
	}
	if e := p.dir.Load().emailOf[user]; e != "" {
		return e
	}
	return p.cfg.Defaults.Email
}

// Settings returns user's effective settings (defaults merged with the
// user's overrides), e.g. for screen pops.
func (p *Policy) Settings(user string) UserSettings { return p.settings(user) }

// Assign says where a's activity goes in the CRM: the user's CRM id (explicit,
// else by e-mail, else the default assignee), the user's e-mail and the
// template code for its kind of call. It implements Assigner.
func (p *Policy) Assign(a bridge.Activity) Assignment {
	s := p.settings(a.User)
	d := p.dir.Load()
	email := p.EmailOf(a.User)
	as := Assignment{CRMUser: s.CRMUser, Mapped: s.CRMUser != "", Email: email}
	if !as.Mapped {
		if id, ok := d.crmByEmail[strings.ToLower(strings.TrimSpace(email))]; ok && email != "" {
			as.CRMUser, as.Mapped = id, true
		} else {
			as.CRMUser = p.cfg.DefaultAssignee
		}
	}
	switch {
	case a.State == bridge.Connected && a.Direction == bridge.Outbound:
		as.Template = s.Templates.Outgoing
	case a.State == bridge.Connected:
		as.Template = s.Templates.Incoming
	case a.Direction == bridge.Outbound:
		as.Template = s.Templates.UnacceptedOutgoing
	default:
		as.Template = s.Templates.MissedIncoming
	}
	return as
}

// Decide says whether a is synced and, if not, why. The rules run cheapest
// first; the start-margin rule runs last because it reserves a's start in
// the store, which only an accepted activity may do. An error (the store is
// unreachable) means no decision: the caller retries later. Every drop is
// counted by reason.
func (p *Policy) Decide(ctx context.Context, a bridge.Activity) (accept bool, reason string, err error) {
	reasons, err := p.decide(ctx, nil, []bridge.Activity{a}, []bool{true}, nil)
	if err != nil {
		return false, "", err
	}
	return reasons[0] == "", reasons[0], nil
}

// AdmitBatch is Decide for each of as whose pass[i] is true, in order,
// setting pass[i] false for each it drops, and enqueues jobsOf(i) in
// queue for each it keeps: the start-margin checks and those enqueues are
// one step of queue where it can (Admit), so queue takes the checks too
// (the daemon has one store for both). jobsOf may return none. On an
// error nothing is decided or counted: the caller asks again.
func (p *Policy) AdmitBatch(ctx context.Context, queue Store, as []bridge.Activity, pass []bool, jobsOf func(i int) []NewJob) error {
	_, err := p.decide(ctx, queue, as, pass, jobsOf)
	return err
}

// decide is AdmitBatch giving each activity's drop reason ("": kept);
// with jobsOf nil it only decides, in the policy's store.
func (p *Policy) decide(ctx context.Context, queue Store, as []bridge.Activity, pass []bool, jobsOf func(i int) []NewJob) ([]string, error) {
	reasons := make([]string, len(as))
	var keys []StartKey
	var at []int
	for i, a := range as {
		if !pass[i] {
			continue
		}
		if reasons[i] = p.rules(a); reasons[i] == "" {
			keys = append(keys, StartKey{
				User: a.User, Remote: remoteKey(a), Start: a.StartedAt, Margin: p.cfg.StartMargin, ID: a.ID,
				Source: a.Source, CallID: a.CallID,
			})
			at = append(at, i)
		}
	}
	var dups []string
	var err error
	if jobsOf == nil {
		dups, err = ReserveStarts(ctx, p.store, keys)
	} else {
		jobs := make([][]NewJob, len(at))
		for k, i := range at {
			jobs[k] = jobsOf(i)
		}
		if dups, err = Admit(ctx, queue, keys, jobs); err != nil {
			return nil, fmt.Errorf("policy: start-margin check and enqueue: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("policy: start-margin check: %w", err)
	}
	for k, d := range dups {
		if d != "" {
			reasons[at[k]] = DropStartMargin
		}
	}
	for i := range as {
		if !pass[i] {
			continue
		}
		if reasons[i] != "" {
			p.dropped.WithLabelValues(reasons[i]).Inc()
			pass[i] = false
			continue
		}
		p.passed.Inc()
	}
	return reasons, nil
}

// rules applies every rule that needs no store.
func (p *Policy) rules(a bridge.Activity) string {
	if a.ID == "" || a.User == "" {
		return DropInvalid
	}
	switch strings.ToLower(strings.TrimSpace(a.Privacy)) {
	case "", bridge.PrivacyWork:
	default: // private, unclassified, and anything unknown: privacy wins
		return DropPrivacy
	}
	if s := p.settings(a.User); s.CRMActive != nil && !*s.CRMActive {
		return DropCRMInactive
	}
	if a.Internal && !p.cfg.SyncInternal {
		return DropInternal
	}
	if a.Reason == bridge.ReasonAnsweredElsewhere && !p.cfg.SyncAnsweredElsewhere {
		return DropAnsweredElsewhere
	}
	if a.State == bridge.Connected && p.cfg.DurationLimit > 0 &&
		time.Duration(a.TalkSeconds*float64(time.Second)) < p.cfg.DurationLimit {
		return DropDurationLimit
	}
	return ""
}

// remoteKey is the remote number the start-margin rule compares: E.164 when
// known, so one call seen by two sources in two formats still matches.
func remoteKey(a bridge.Activity) string {
	if a.RemoteE164 != "" {
		return a.RemoteE164
	}
	return a.RemoteNumber
}
