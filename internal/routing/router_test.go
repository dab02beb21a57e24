package routing

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callbridge/callbridge/internal/phone"
)

// index is a phone index in a test: records by E.164 number.
type index struct {
	recs    map[string]Record
	loading bool
	broken  bool
}

func (x *index) Find(number string) (Record, bool, bool) {
	if x.broken {
		panic("index failure")
	}
	if x.loading {
		return Record{}, false, false
	}
	if r, ok := x.recs[number]; ok {
		return r, true, true
	}
	e, _ := phone.NewNormalizer("FI").Normalize(number)
	r, ok := x.recs[e]
	return r, ok, true
}

type owners map[string]string // CRM user -> extension

func (o owners) Extension(conn, u string) (string, bool) {
	ext, ok := o[conn+"/"+u]
	return ext, ok
}

type busy map[string]bool

func (b busy) OnCall(u string) bool { return b[u] }

const (
	maija = "+358401234567" // a contact owned by Bob (102)
	acme  = "+35898765432"  // a VIP account (category 1) owned by an unmapped user
	rival = "+35850111000"  // an account of category 3 owned by Alice (101)
)

func deps(x *index, b busy) Deps {
	norm := phone.NewNormalizer("FI")
	return Deps{
		Records:       x,
		Owners:        owners{"dyn/u-bob": "102", "dyn/u-alice": "101"},
		Presence:      b,
		DirectNumbers: map[string]string{"101": "", "102": "+358501000102", "200": ""},
		Normalize:     norm.Normalize,
	}
}

func crm() *index {
	return &index{recs: map[string]Record{
		maija: {Connector: "dyn", Owner: "u-bob"},
		acme:  {Connector: "dyn", Owner: "u-gone", Fields: map[string]string{"accountcategorycode": "1"}},
		rival: {Connector: "dyn", Owner: "u-alice", Fields: map[string]string{"accountcategorycode": "3"}},
	}}
}

// Every kind of rule, first match wins, and the fail-open cases.
func TestRoute(t *testing.T) {
	owner := Rule{Match: MatchOwner}
	ownerFree := Rule{Name: "owner-free", Match: MatchOwner, WhenFree: true}
	direct := Rule{Name: "direct", Match: MatchOwner, Target: TargetDirectNumber}
	vip := Rule{Name: "vip", Match: MatchField, Field: "accountcategorycode", Values: []string{"1", "2"}, Target: "+358501234567"}
	sweden := Rule{Name: "sweden", Match: MatchPrefix, Prefixes: []string{"+46", "+47"}, Target: "200"}
	mobiles := Rule{Name: "mobiles", Match: MatchPrefix, Prefixes: []string{"050"}, Target: "201"}
	listed := Rule{Name: "listed", Match: MatchNumber, Numbers: []string{"09 876 5432"}, Target: "300"}
	free200 := Rule{Name: "free200", Match: MatchPrefix, Prefixes: []string{"+46"}, Target: "200", WhenFree: true}

	tests := []struct {
		name       string
		rules      []Rule
		idx        *index
		busy       busy
		anum, bnum string
		target     string
		result     string
	}{
		{"owner's extension", []Rule{owner}, crm(), nil, maija, "+35850111222", "102", ResultRouted},
		{"national-form caller", []Rule{owner}, crm(), nil, "040 123 4567", "+35850111222", "102", ResultRouted},
		{"owner's direct number", []Rule{direct}, crm(), nil, maija, "+35850111222", "+358501000102", ResultRouted},
		{"owner without direct number: next rule", []Rule{direct, listed}, crm(), nil, rival, "+35850111222", "", ResultNone},
		{"owner not mapped: next rule", []Rule{owner, listed}, crm(), nil, acme, "+35850111222", "300", ResultRouted},
		{"owner on a call, when_free: next rule", []Rule{ownerFree, vip}, crm(), busy{"102": true}, maija, "+35850111222", "", ResultNone},
		{"owner free, when_free", []Rule{ownerFree}, crm(), busy{"101": true}, maija, "+35850111222", "102", ResultRouted},
		{"field value", []Rule{vip, owner}, crm(), nil, acme, "+35850111222", "+358501234567", ResultRouted},
		{"field value not listed: next rule", []Rule{vip, owner}, crm(), nil, rival, "+35850111222", "101", ResultRouted},
		{"international prefix of a national-form caller", []Rule{sweden, mobiles}, crm(), nil, "0046 70 123 4567", "100", "200", ResultRouted},
		{"national prefix as presented", []Rule{sweden, mobiles}, crm(), nil, "050 765 4321", "100", "201", ResultRouted},
		{"prefix target busy, when_free", []Rule{free200}, crm(), busy{"200": true}, "+46701234567", "100", "", ResultNone},
		{"listed number, configured in national form", []Rule{listed}, crm(), nil, "+358 9 876 5432", "100", "300", ResultRouted},
		{"first match wins", []Rule{listed, vip}, crm(), nil, acme, "100", "300", ResultRouted},
		{"unknown caller", []Rule{owner, vip, listed}, crm(), nil, "+358407777777", "100", "", ResultNone},
		{"no caller number", []Rule{sweden}, crm(), nil, "", "100", "", ResultNone},
		{"anonymous caller", []Rule{owner, sweden}, crm(), nil, "anonymous", "100", "", ResultNone},
		{"loop: the owner's own extension was dialled", []Rule{owner}, crm(), nil, maija, "102", "", ResultLoop},
		{"loop: the target number in another form", []Rule{vip}, crm(), nil, acme, "050 123 4567", "", ResultLoop},
		{"loop stops the rules", []Rule{listed, vip}, crm(), nil, acme, "300", "", ResultLoop},
		{"index loading: record rules skipped", []Rule{owner, vip}, &index{loading: true}, nil, maija, "100", "", ResultNotReady},
		{"index loading: number rules still apply", []Rule{owner, listed}, &index{loading: true}, nil, acme, "100", "300", ResultRouted},
		{"index failing", []Rule{owner}, &index{broken: true}, nil, maija, "100", "", ResultError},
		{"no index at all", []Rule{owner}, nil, nil, maija, "100", "", ResultNotReady},
		{"no rules", nil, crm(), nil, maija, "100", "", ResultNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deps(tt.idx, tt.busy)
			if tt.idx == nil {
				d.Records = nil
			}
			cfg := Config{Rules: tt.rules}
			if err := cfg.Validate(Directory{Users: d.DirectNumbers, Normalize: d.Normalize}); err != nil {
				t.Fatalf("config: %v", err)
			}
			r, err := New(cfg, d)
			if err != nil {
				t.Fatal(err)
			}
			a := r.Route(tt.anum, tt.bnum)
			if a.Target != tt.target || a.Result != tt.result {
				t.Errorf("Route(%q, %q) = %+v, want target %q, %s", tt.anum, tt.bnum, a, tt.target, tt.result)
			}
		})
	}
}

func TestRouteCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := deps(crm(), nil)
	d.Registerer = reg
	r, err := New(Config{Rules: []Rule{{Match: MatchOwner}}}, d)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(maija, "100")
	r.Route(maija, "102")
	r.Route("+358407777777", "100")
	want := `
# HELP callbridge_routing_answers_total Routing questions from the dialplan, by result (routed, none, loop, not_ready, error).
# TYPE callbridge_routing_answers_total counter
callbridge_routing_answers_total{result="error"} 0
callbridge_routing_answers_total{result="loop"} 1
callbridge_routing_answers_total{result="none"} 1
callbridge_routing_answers_total{result="not_ready"} 0
callbridge_routing_answers_total{result="routed"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "callbridge_routing_answers_total"); err != nil {
		t.Error(err)
	}
}

func TestValidate(t *testing.T) {
	dir := Directory{Users: map[string]string{"101": "", "102": "+358501000102"}, Normalize: phone.NewNormalizer("FI").Normalize}
	for _, tt := range []struct {
		rule Rule
		want string // "" valid
	}{
		{Rule{Match: MatchOwner}, ""},
		{Rule{Match: MatchOwner, Target: TargetDirectNumber, WhenFree: true}, ""},
		{Rule{Match: MatchField, Field: "accountcategorycode", Values: []string{"1"}, Target: "+358501234567"}, ""},
		{Rule{Match: MatchPrefix, Prefixes: []string{"+46", "040"}, Target: "101", WhenFree: true}, ""},
		{Rule{Match: MatchNumber, Numbers: []string{"040 123 4567", "+46701234567"}, Target: "101"}, ""},
		{Rule{}, "rules[0].match: required"},
		{Rule{Match: "caller"}, "rules[0].match"},
		{Rule{Match: MatchOwner, Target: "101"}, "rules[0].target"},
		{Rule{Match: MatchOwner, Prefixes: []string{"+46"}}, "rules[0].prefixes: not used"},
		{Rule{Match: MatchField, Values: []string{"1"}, Target: "101"}, "rules[0].field"},
		{Rule{Match: MatchField, Field: "x", Target: "101"}, "rules[0].values"},
		{Rule{Match: MatchPrefix, Target: "101"}, "rules[0].prefixes: at least"},
		{Rule{Match: MatchPrefix, Prefixes: []string{"+46 7"}, Target: "101"}, "rules[0].prefixes[0]"},
		{Rule{Match: MatchNumber, Numbers: []string{"not a number"}, Target: "101"}, "rules[0].numbers[0]"},
		{Rule{Match: MatchNumber, Numbers: []string{"+46701234567"}}, "rules[0].target: required"},
		{Rule{Match: MatchNumber, Numbers: []string{"+46701234567"}, Target: "1 0 1"}, "rules[0].target"},
		{Rule{Match: MatchNumber, Numbers: []string{"+46701234567"}, Target: "+358501234567", WhenFree: true}, "rules[0].when_free"},
	} {
		err := Config{Rules: []Rule{tt.rule}}.Validate(dir)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.rule, err, tt.want)
		}
	}
	err := Config{Rules: []Rule{{Name: "a", Match: MatchOwner}, {Name: "a", Match: MatchOwner}}}.Validate(dir)
	if err == nil || !strings.Contains(err.Error(), "rules[1].name") {
		t.Errorf("duplicate names: %v", err)
	}
}

// BenchmarkRoute: an owner rule answered from a small index, the work of
// one /api/route request after decoding.
func BenchmarkRoute(b *testing.B) {
	r, err := New(Config{Rules: []Rule{{Match: MatchOwner, WhenFree: true}, {Match: MatchPrefix, Prefixes: []string{"+46"}, Target: "200"}}}, deps(crm(), busy{}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if a := r.Route(maija, "+35850111222"); a.Target != "102" {
			b.Fatal(a)
		}
	}
}
