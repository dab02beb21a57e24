package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/routing"
)

func noEnv(string) string { return "" }

func TestExampleLoads(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("Load(example.yaml): %v", err)
	}
	if err := c.ValidateForRun(); err != nil {
		t.Fatalf("ValidateForRun: %v", err)
	}
	if !c.ARI.On() || c.AMI.On() || c.SIP.On() {
		t.Errorf("sources on: ari %v ami %v sip %v; want only ari", c.ARI.On(), c.AMI.On(), c.SIP.On())
	}
	if len(c.Users) != 3 || c.Users[0].Extension != "101" || c.DefaultRegion != "FI" {
		t.Errorf("unexpected content: %+v", c)
	}
}

// TestExampleHasEveryKey keeps example.yaml from rotting: every key of
// Config, at every depth, must appear in it.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	nodePaths(root.Content[0], "", have)
	var want []string
	typePaths(reflect.TypeFor[Config](), "", &want)
	for _, p := range want {
		if !have[p] && !notInExample[p] && !shownInComment(string(data), p, have) {
			t.Errorf("example.yaml lacks %s", p)
		}
	}
	var maps []string
	mapPaths(reflect.TypeFor[Config](), "", &maps)
	for p := range have {
		inMap := slices.ContainsFunc(maps, func(m string) bool { return strings.HasPrefix(p, m+".") })
		if !slices.Contains(want, p) && !inMap {
			t.Errorf("example.yaml has %s, which Config does not", p)
		}
	}
}

// notInExample are keys the types have that a config may not set.
var notInExample = map[string]bool{
	// UserSettings serves policy.users too, where crm_user is a user's
	// own mapping; for everybody it is policy.default_assignee, and
	// Validate refuses a value here.
	"policy.defaults.crm_user": true,
	// Reserved for the lookup API's extra attributes; refused until
	// something reads them.
	"crm.recognition.entities.fields": true,
}

// shownInComment accepts a key of a list's entries that the example shows
// in a comment beside the empty list (http.dialplan_tokens: [] with a
// commented entry): a working entry needs a file the example cannot ship.
func shownInComment(example, p string, have map[string]bool) bool {
	i := strings.LastIndex(p, ".")
	if i < 0 || !have[p[:i]] {
		return false
	}
	leaf := p[i+1:]
	for _, line := range strings.Split(example, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok && strings.HasPrefix(strings.TrimLeft(c, " -"), leaf+":") {
			return true
		}
	}
	return false
}

// mapPaths lists the key paths of map-typed fields, whose keys are data
// (extensions, header names), not configuration keys.
func mapPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for name, f := range yamlFields(t) {
		p := join(prefix, name)
		if f.Type.Kind() == reflect.Map {
			*out = append(*out, p)
			continue
		}
		mapPaths(f.Type, p, out)
	}
}

func typePaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[Secret]() {
		return
	}
	for name, f := range yamlFields(t) {
		p := join(prefix, name)
		*out = append(*out, p)
		typePaths(f.Type, p, out)
	}
}

func nodePaths(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(prefix, n.Content[i].Value)
			out[p] = true
			nodePaths(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for _, e := range n.Content {
			nodePaths(e, prefix, out)
		}
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate(): %v", err)
	}
	if err := c.ValidateForRun(); !errors.Is(err, ErrNoSource) {
		t.Fatalf("Default().ValidateForRun() = %v, want ErrNoSource", err)
	}
	checks := []struct{ name, got, want string }{
		{"log_level", c.LogLevel, "info"},
		{"state_dir", c.StateDir, "/var/lib/callbridge"},
		{"ari.application", c.ARI.Application, "callbridge"},
		{"extension_pattern", c.ExtensionPattern, `^[0-9]{2,6}$`},
		{"sink.file", c.Sink.File, "/var/lib/callbridge/activities.jsonl"},
		{"http.listen", c.HTTP.Listen, "127.0.0.1:9089"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.AMI.Port != 5038 {
		t.Errorf("ami.port = %d, want 5038", c.AMI.Port)
	}
	if c.ARI.On() || len(c.Trunks) != 0 {
		t.Errorf("ari on %v, trunks %v; want off, none", c.ARI.On(), c.Trunks)
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(*Config) string
	}{
		{"sink follows state_dir", "state_dir: /srv/cb\n", func(c *Config) string {
			return want(c.Sink.File, "/srv/cb/activities.jsonl")
		}},
		{"explicit sink kept", "state_dir: /srv/cb\nsink: {file: /tmp/a.jsonl}\n", func(c *Config) string {
			return want(c.Sink.File, "/tmp/a.jsonl")
		}},
		{"ari on with url", "ari: {url: 'http://pbx:8088/ari', username: u, password: p}\n", func(c *Config) string {
			return wantBool(c.ARI.On(), true)
		}},
		{"ari off by flag", "ari: {url: 'http://pbx:8088/ari', enabled: false}\n", func(c *Config) string {
			return wantBool(c.ARI.On(), false)
		}},
		{"empty file", "", func(c *Config) string { return want(c.LogLevel, "info") }},
		{"only comments", "# nothing\n", func(c *Config) string { return want(c.StateDir, DefaultStateDir) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load([]byte(tt.yaml), t.TempDir(), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func want(got, want string) string {
	if got != want {
		return "got " + got + ", want " + want
	}
	return ""
}

func wantBool(got, want bool) string {
	if got != want {
		return "got " + map[bool]string{true: "true", false: "false"}[got]
	}
	return ""
}

// valid is a small config that passes ValidateForRun; validation cases
// break one thing in it.
func valid() *Config {
	c := Default()
	c.ARI.URL = "http://127.0.0.1:8088/ari"
	c.ARI.Username = "callbridge"
	c.ARI.Password = "pw"
	c.ARI.Enabled = nil
	c.Users = []User{{Extension: "101", Email: "a@example.com"}, {Extension: "102"}}
	c.Trunks = []string{"pstn"}
	c.DefaultRegion = "FI"
	return c
}

// keyed is what every validation error line looks like: a key path, a
// colon, the problem.
var keyed = regexp.MustCompile(`^[a-z_]+(\[\d+\])?(\.[a-z_0-9]+(\[\d+\])?)*: .+`)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // each must be one error line
	}{
		{"valid", func(*Config) {}, nil},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, []string{`log_level: "verbose" is not one of debug, info, warn, error`}},
		{"state dir", func(c *Config) { c.StateDir = ""; c.Sink.File = "" }, []string{"state_dir: required", "sink.file: required (or set state_dir)"}},
		{"pbx id", func(c *Config) { c.PBXID = "hq 1" }, []string{`pbx_id: "hq 1": use 1–64 letters, digits, '.', '_' or '-'`}},
		{"ari url required", func(c *Config) { c.ARI.URL = ""; c.ARI.Enabled = ptr(true) }, []string{"ari.url: required"}},
		{"ari url scheme", func(c *Config) { c.ARI.URL = "ws://pbx/ari" }, []string{`ari.url: "ws://pbx/ari": scheme must be http or https`}},
		{"ari url host", func(c *Config) { c.ARI.URL = "http:///ari" }, []string{`ari.url: "http:///ari": no host`}},
		{"ari url credentials", func(c *Config) { c.ARI.URL = "http://u:hunter2@pbx/ari" }, []string{"ari.url: credentials in the URL; use ari.username and ari.password"}},
		{"ari url credentials, bad scheme", func(c *Config) { c.ARI.URL = "ws://u:hunter2@pbx/ari" }, []string{"ari.url: credentials in the URL; use ari.username and ari.password"}},
		{"ari url garbage", func(c *Config) { c.ARI.URL = "http://[::1" }, []string{"ari.url: not a URL (look at its host and port)"}},
		{"ari application", func(c *Config) { c.ARI.Application = "" }, []string{"ari.application: required"}},
		{"ari application chars", func(c *Config) { c.ARI.Application = "a b" }, []string{`ari.application: "a b": must not contain spaces or URL punctuation`}},
		{"ari username", func(c *Config) { c.ARI.Username = "" }, []string{"ari.username: required"}},
		{"ari password", func(c *Config) { c.ARI.Password = "" }, []string{"ari.password: required (or ari.password_file)"}},
		{"ari off skips checks", func(c *Config) {
			c.ARI.Enabled = ptr(false)
			c.ARI.Username = ""
			c.AMI.Host = "pbx"
			c.AMI.Username = "u"
			c.AMI.Secret = "s"
		}, nil},
		{"ami port", func(c *Config) { c.AMI.Port = 70000 }, []string{"ami.port: 70000 is not a port (1–65535)"}},
		{"ami host with port", func(c *Config) { c.AMI.Host = "pbx:5038"; c.AMI.Username = "u"; c.AMI.Secret = "s" }, []string{`ami.host: "pbx:5038": a host name or IP address, without port (see ami.port)`}},
		{"ami ipv6 host", func(c *Config) { c.AMI.Host = "::1"; c.AMI.Username = "u"; c.AMI.Secret = "s" }, nil},
		{"ami credentials", func(c *Config) { c.AMI.Host = "127.0.0.1" }, []string{"ami.username: required", "ami.secret: required (or ami.secret_file)"}},
		{"hep udp", func(c *Config) {
			c.SIP.HEPListenUDP = []string{":9060", "9060"}
			c.SIP.HEPAllowedSources = []string{"192.0.2.10"}
		},
			[]string{`sip.hep_listen_udp[1]: "9060": want host:port`}},
		{"hep off loopback", func(c *Config) {
			c.SIP.HEPListenUDP = []string{"127.0.0.1:9060"}
			c.SIP.HEPListenTCP = []string{"[::1]:9061", "0.0.0.0:9061"}
		},
			[]string{`sip.hep_allowed_sources: required: sip.hep_listen_tcp[1] "0.0.0.0:9061" is off loopback; list the capture agents' addresses (CIDRs) so that nobody else can send HEP`}},
		{"hep on loopback", func(c *Config) { c.SIP.HEPListenUDP = []string{"127.0.0.1:9060", "[::1]:9060", "localhost:9062"} }, nil},
		{"hep allowed sources", func(c *Config) {
			c.SIP.HEPListenUDP = []string{"192.0.2.1:9060"}
			c.SIP.HEPAllowedSources = []string{"192.0.2.0/24", "agent.example", "2001:db8::/129"}
		}, []string{`sip.hep_allowed_sources[1]: "agent.example" is not an address or a CIDR network (192.0.2.10, 192.0.2.0/24)`,
			`sip.hep_allowed_sources[2]: "2001:db8::/129" is not an address or a CIDR network (192.0.2.10, 192.0.2.0/24)`}},
		{"subscribe off loopback", func(c *Config) { c.SIP.Subscribe.PBX = "192.0.2.5:5060" },
			[]string{`sip.subscribe.allowed_sources: required: sip.subscribe.listen "0.0.0.0:5070" is off loopback; list the PBX's address (CIDR, e.g. "192.0.2.5/32") so that nobody else can send NOTIFYs`}},
		{"subscribe with allowed sources", func(c *Config) {
			c.SIP.Subscribe.PBX = "192.0.2.5:5060"
			c.SIP.Subscribe.AllowedSources = []string{"192.0.2.5"}
		}, nil},
		{"subscribe on loopback", func(c *Config) { c.SIP.Subscribe.PBX = "127.0.0.1:5060"; c.SIP.Subscribe.Listen = "127.0.0.1:5070" }, nil},
		{"subscribe allowed sources bad", func(c *Config) { c.SIP.Subscribe.PBX = "pbx:5060"; c.SIP.Subscribe.AllowedSources = []string{"pbx"} },
			[]string{`sip.subscribe.allowed_sources[0]: "pbx" is not an address or a CIDR network (192.0.2.10, 192.0.2.0/24)`}},
		{"hep tcp", func(c *Config) { c.SIP.HEPListenTCP = []string{"127.0.0.1:x"} }, []string{`sip.hep_listen_tcp[0]: "127.0.0.1:x": port "x" is not a number 0–65535`}},
		{"pbx addresses", func(c *Config) { c.SIP.PBXAddresses = []string{"10.0.0.1", "pbx.example.com"} }, []string{`sip.pbx_addresses[1]: "pbx.example.com": want an IP address, IP:port or prefix (10.0.0.0/24)`}},
		{"trunk addresses", func(c *Config) { c.SIP.TrunkAddresses = []string{"192.0.2.0/24", "[::1]:5060", "1.2.3.4/40"} }, []string{`sip.trunk_addresses[2]: "1.2.3.4/40": want an IP address, IP:port or prefix (10.0.0.0/24)`}},
		{"conferences", func(c *Config) {
			c.SIP.Conferences = map[string][]string{"800": {"800", "+35850111800"}, "801": {"+35850111800", ""}, "802": nil}
		}, []string{`sip.conferences.801[0]: "+35850111800" also reaches room 800`, `sip.conferences.801[1]: empty number`,
			`sip.conferences.802: list the numbers that reach the room (at least the room's own)`}},
		{"extension required", func(c *Config) { c.Users[1].Extension = "" }, []string{"users[1].extension: required"}},
		{"extension chars", func(c *Config) { c.Users[1].Extension = "10 2" }, []string{`users[1].extension: "10 2": must not contain spaces, '@' or '/'`}},
		{"duplicate extension", func(c *Config) { c.Users = append(c.Users, User{Extension: "101"}) }, []string{`users[2].extension: "101" is also users[0].extension`}},
		{"endpoint taken", func(c *Config) { c.Users[1].Endpoints = []string{"102", "101"} }, []string{`users[1].endpoints[1]: "101" is also users[0].extension`}},
		{"endpoint empty", func(c *Config) { c.Users[1].Endpoints = []string{""} }, []string{"users[1].endpoints[0]: empty"}},
		{"trunk is a user", func(c *Config) { c.Trunks = append(c.Trunks, "102") }, []string{`trunks[1]: "102" is also users[1].extension`}},
		{"trunk twice", func(c *Config) { c.Trunks = append(c.Trunks, "pstn") }, []string{`trunks[1]: "pstn" is also trunks[0]`}},
		{"trunk empty", func(c *Config) { c.Trunks = []string{""} }, []string{"trunks[0]: empty"}},
		{"email", func(c *Config) { c.Users[0].Email = "Alice <a@example.com>" }, []string{`users[0].email: "Alice <a@example.com>" is not a plain e-mail address`}},
		{"mobile national", func(c *Config) { c.Users[0].Mobile = "0401234567" }, nil},
		{"mobile bad", func(c *Config) { c.Users[0].Mobile = "12" }, []string{`users[0].mobile: "12" is not a phone number`}},
		{"mobile without region", func(c *Config) { c.DefaultRegion = ""; c.Users[0].Mobile = "0401234567" }, []string{`users[0].mobile: "0401234567": write it as +<country code><number> or set default_region`}},
		{"mobile international without region", func(c *Config) { c.DefaultRegion = ""; c.Users[0].Mobile = "+358401234567" }, nil},
		{"pattern", func(c *Config) { c.ExtensionPattern = "[0-9" }, []string{"extension_pattern: \"[0-9\" does not compile: error parsing regexp: missing closing ]: `[0-9`"}},
		{"pattern empty", func(c *Config) { c.ExtensionPattern = "" }, []string{"extension_pattern: required (an empty pattern makes every endpoint a user)"}},
		{"region", func(c *Config) { c.DefaultRegion = "XX" }, []string{`default_region: "XX" is not a supported ISO 3166-1 region (e.g. FI, SE, DE, US)`}},
		{"region lower case", func(c *Config) { c.DefaultRegion = "fi" }, nil},
		{"http listen", func(c *Config) { c.HTTP.Listen = "8089" }, []string{`http.listen: "8089": want host:port`}},
		{"http off", func(c *Config) { c.HTTP.Listen = "" }, nil},
		{"store type", func(c *Config) { c.Store.Type = "etcd" }, []string{`store.type: "etcd" is not one of embedded, redis`}},
		{"redis url required", func(c *Config) { c.Store.Type = StoreRedis }, []string{"store.redis_url: required for store.type redis (or store.redis_url_file)"}},
		{"redis url scheme, not quoted", func(c *Config) { c.Store.Type = StoreRedis; c.Store.RedisURL = "http://:hunter2@r" }, []string{`store.redis_url: scheme "http": want redis, rediss, redis+sentinel or redis+cluster`}},
		{"redis url with embedded", func(c *Config) { c.Store.RedisURL = "redis://r" }, []string{`store.redis_url: set, but store.type is "embedded": set store.type: redis`}},
		{"policy nested", func(c *Config) { c.Delivery.Concurrency = 0 }, []string{"delivery.concurrency: want 1..1024, got 0"}},
		{"crm unknown type", func(c *Config) { c.CRM = []connectors.ConnectorConfig{{Type: "sugarcrm"}} }, []string{`crm[0].type: "sugarcrm" unknown (known: [creatio dynamics hubspot pipedrive salesforce webhook zoho])`}},
		{"crm duplicate name", func(c *Config) {
			hook := &webhook.Config{URL: "https://crm.example.com/h", Secret: "s"}
			c.CRM = []connectors.ConnectorConfig{{Type: "webhook", Settings: hook}, {Type: "webhook", Settings: hook}}
		}, []string{`crm[1].name: "webhook" is also crm[0]'s name: give each connector its own`}},
		{"crm webhook url", func(c *Config) {
			c.CRM = []connectors.ConnectorConfig{{Type: "webhook", Settings: &webhook.Config{URL: "ftp://x", Secret: "s"}}}
		}, []string{"crm[0].webhook.url: want an absolute http or https URL"}},
		{"crm webhook recognition_from", func(c *Config) {
			c.CRM = []connectors.ConnectorConfig{{Type: "webhook", Settings: &webhook.Config{URL: "https://crm.example.com/h", Secret: "s", RecognitionFrom: "dynamics"}}}
		}, []string{`crm[0].webhook.recognition_from: "dynamics" is not a connector with recognition on`}},
		{"privacy prefix", func(c *Config) {
			c.Privacy.Prefixes = []PrivacyPrefix{{Prefix: "*99", Class: "private"}, {Prefix: "", Class: "private"}, {Prefix: "*9 9", Class: "private"}, {Prefix: "*99", Class: "secret"}}
		}, []string{"privacy.prefixes[1].prefix: required", `privacy.prefixes[2].prefix: "*9 9": use what a phone dials (digits, *, #, +)`,
			`privacy.prefixes[3].prefix: "*99" is also privacy.prefixes[0].prefix`, `privacy.prefixes[3].class: "secret" is not one of private, unclassified`}},
		{"privacy number", func(c *Config) {
			c.Privacy.Numbers = []PrivacyNumber{{Number: "+358 (40) 123-4000", Class: "unclassified"}, {Number: "12", Class: "private"}, {Number: "040abc", Class: "work"}}
		}, []string{`privacy.numbers[1].number: "12": want a phone number (at least 3 digits; +, spaces, '-' and parentheses allowed)`,
			`privacy.numbers[2].number: "040abc": want a phone number (at least 3 digits; +, spaces, '-' and parentheses allowed)`,
			`privacy.numbers[2].class: "work" is not one of private, unclassified`}},
		{"direct number", func(c *Config) { c.Users[0].DirectNumber = "12" }, []string{`users[0].direct_number: "12" is not a phone number`}},
		{"routing rule", func(c *Config) {
			c.Routing.Rules = []routing.Rule{{Match: "owner", Target: "mobile"}, {Match: "prefix", Prefixes: []string{"+46"}}}
		}, []string{`routing.rules[0].target: "mobile": for an owner rule, extension or direct_number`,
			"routing.rules[1].target: required: the extension or number to route to"}},
		{"routing when_free needs a user", func(c *Config) {
			c.Routing.Rules = []routing.Rule{{Match: "number", Numbers: []string{"040 123 4567"}, Target: "999", WhenFree: true}}
		}, []string{`routing.rules[0].when_free: target "999" is not a user's extension (users[]): callbridge cannot tell whether it is on a call`}},
		{"routing numbers in national form need the region", func(c *Config) {
			c.DefaultRegion = ""
			c.Routing.Rules = []routing.Rule{{Match: "number", Numbers: []string{"040 123 4567"}, Target: "101"}}
		}, []string{`routing.rules[0].numbers[0]: "040 123 4567" is not a phone number (national form needs default_region)`}},
		{"wrapup", func(c *Config) { c.Wrapup.Codes = []string{"SALE", "SALE"}; c.Wrapup.Timeout = 0 }, []string{
			`wrapup.codes[1]: "SALE" is also codes[0]`, "wrapup.timeout: 0s: want more than 0 and at most 24h"}},
		{"callbacks", func(c *Config) {
			c.Callbacks.Profiles = []crmsync.CallbackProfile{{Queue: "support", Ownership: "me"}}
		}, []string{"callbacks.profiles[0].crm_queue: required: the CRM queue the requests go to",
			`callbacks.profiles[0].ownership: "me": want api_user or queue_owner`}},
		{"all at once", func(c *Config) {
			c.LogLevel = "x"
			c.ARI.Username = ""
			c.Users[1].Extension = "101"
		}, []string{`log_level: "x" is not one of debug, info, warn, error`, "ari.username: required", `users[1].extension: "101" is also users[0].extension`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(c)
			err := c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			for _, line := range got {
				if !keyed.MatchString(line) {
					t.Errorf("error %q does not start with a key path", line)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateForRun(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"ari", func(*Config) {}, true},
		{"none", func(c *Config) { c.ARI.URL = "" }, false},
		{"ari disabled", func(c *Config) { c.ARI.Enabled = ptr(false) }, false},
		{"ami", func(c *Config) { c.ARI.URL = ""; c.AMI.Host = "pbx"; c.AMI.Username = "u"; c.AMI.Secret = "s" }, true},
		{"sip udp", func(c *Config) { c.ARI.URL = ""; c.SIP.HEPListenUDP = []string{"127.0.0.1:9060"} }, true},
		{"sip tcp", func(c *Config) { c.ARI.URL = ""; c.SIP.HEPListenTCP = []string{"127.0.0.1:9060"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(c)
			err := c.ValidateForRun()
			if tt.ok && err != nil {
				t.Fatalf("ValidateForRun: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrNoSource) {
				t.Fatalf("ValidateForRun = %v, want ErrNoSource", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top key", "log_level: info\nlogLevel: debug\n", []string{"line 2: logLevel: unknown key (did you mean log_level?)"}},
		// Every stage runs: what the typo leaves unset is reported too.
		{"typo suggests", "ari:\n  url: http://x/ari\n  usrname: u\n  password: p\n", []string{"line 3: ari.usrname: unknown key (did you mean username?)", "ari.username: required"}},
		{"unknown in user", "users:\n  - extension: '101'\n  - extension: '102'\n    mail: b@x.com\n", []string{"line 4: users[1].mail: unknown key (did you mean email?)"}},
		{"several unknown", "foo: 1\nhttp:\n  port: 1\n", []string{"line 1: foo: unknown key", "line 3: http.port: unknown key"}},
		{"wrong type", "ami:\n  port: five\n", []string{"line 2: ami.port: cannot unmarshal !!str `five` into int"}},
		{"list for string", "log_level: [a]\n", []string{"line 1: log_level: cannot unmarshal !!seq into string"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1: the config must be a mapping of keys (log_level: …, ari: …)"}},
		{"two documents", "log_level: info\n---\nlog_level: debug\n", []string{"line 2: a second YAML document; the config is one document"}},
		{"syntax", "ari:\n url: x\n  username: y\n", []string{"line 3: mapping values are not allowed in this context"}},
		{"duplicate key", "log_level: info\nlog_level: debug\n", []string{`line 2: log_level: mapping key "log_level" already defined at line 1`}},
		{"validation", "log_level: loud\n", []string{`log_level: "loud" is not one of debug, info, warn, error`}},
		{"both secret forms", "ari: {url: 'http://x/ari', username: u, password: p, password_file: f}\n", []string{"ari.password_file: set both ari.password and ari.password_file; keep one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load([]byte(tt.yaml), t.TempDir(), noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("log_level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":\nlog_level:") || c == nil {
		t.Errorf("invalid file: %v, config %v", err, c)
	}
}

func TestEngineConfig(t *testing.T) {
	c := valid()
	c.PBXID = "hq"
	c.Users[0].Name = "Alice"
	c.Users[0].Endpoints = []string{"101-desk"}
	c.ExtensionPattern = "^1[0-9]{2}$"
	ec := c.EngineConfig()
	wantUsers := []bridge.User{
		{Extension: "101", Name: "Alice", Email: "a@example.com", Endpoints: []string{"101-desk"}},
		{Extension: "102"},
	}
	if ec.PBX != "hq" || ec.Source != "" || !reflect.DeepEqual(ec.Users, wantUsers) || !slices.Equal(ec.Trunks, []string{"pstn"}) {
		t.Errorf("EngineConfig() = %+v", ec)
	}
	if ec.ExtensionPattern == nil || ec.ExtensionPattern.String() != "^1[0-9]{2}$" {
		t.Errorf("pattern %v", ec.ExtensionPattern)
	}
	// The engine's copy is its own.
	c.Users[0].Endpoints[0] = "changed"
	c.Trunks[0] = "changed"
	if ec.Users[0].Endpoints[0] != "101-desk" || ec.Trunks[0] != "pstn" {
		t.Error("EngineConfig shares slices with Config")
	}
	c.ExtensionPattern = "[bad"
	if c.EngineConfig().ExtensionPattern != nil {
		t.Error("invalid pattern should leave the engine default")
	}
}

// Each privacy key does what docs/config.md says: a dialled prefix marks the
// call and leaves the number as the remote; a listed number marks every call
// with it, in any format; a call no rule matches stays a work call.
func TestPrivacyRulesApply(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "trunks: [pstn]\nprivacy:\n" +
		"  prefixes:\n    - {prefix: \"*99\", class: private}\n    - {prefix: \"#31#\", class: unclassified}\n" +
		"  numbers:\n    - {number: \"+358 40 123 4000\", class: private}\n    - {number: \"0501234999\", class: unclassified}\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ec := c.EngineConfig()
	ec.Source = "test"
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	call := func(dir bridge.Direction, user, number string) bridge.Activity {
		e := bridge.New(ec)
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		u := bridge.Channel{ID: "u", Name: "PJSIP/" + user + "-1", CallerNumber: user}
		p := bridge.Channel{ID: "p", Name: "PJSIP/pstn-2"}
		caller, callee := u, p
		if dir == bridge.Inbound {
			p.CallerNumber, p.Exten = number, "+35850111222"
			caller, callee = p, u
		} else {
			caller.Exten = number
		}
		caller.State, callee.State = bridge.StateRing, bridge.StateDown
		var acts []bridge.Activity
		for _, ev := range []bridge.Event{
			{Kind: bridge.ChannelCreated, Time: at(0), Channel: caller},
			{Kind: bridge.ChannelCreated, Time: at(0), Channel: callee},
			{Kind: bridge.Dial, Time: at(0), Channel: bridge.Channel{ID: caller.ID}, Peer: bridge.Channel{ID: callee.ID}},
			{Kind: bridge.Dial, Time: at(2), Channel: bridge.Channel{ID: caller.ID}, Peer: bridge.Channel{ID: callee.ID}, DialStatus: "ANSWER"},
			{Kind: bridge.BridgeEnter, Time: at(2), Channel: bridge.Channel{ID: "u"}, Bridge: "B"},
			{Kind: bridge.BridgeEnter, Time: at(2), Channel: bridge.Channel{ID: "p"}, Bridge: "B"},
			{Kind: bridge.ChannelDestroyed, Time: at(9), Channel: bridge.Channel{ID: "u"}},
			{Kind: bridge.ChannelDestroyed, Time: at(9), Channel: bridge.Channel{ID: "p"}},
		} {
			for _, tr := range e.Apply(ev) {
				if tr.Activity != nil {
					acts = append(acts, *tr.Activity)
				}
			}
		}
		if len(acts) != 1 {
			t.Fatalf("%s %s: %d activities", dir, number, len(acts))
		}
		return acts[0]
	}
	for _, tt := range []struct {
		name            string
		dir             bridge.Direction
		number          string
		privacy, remote string
	}{
		{"prefixes[0]: dialled *99", bridge.Outbound, "*990401234567", "private", "0401234567"},
		{"prefixes[1]: dialled #31#", bridge.Outbound, "#31#0401234567", "unclassified", "0401234567"},
		{"numbers[0]: caller in national form", bridge.Inbound, "0401234000", "private", "0401234000"},
		{"numbers[0]: dialled in international form", bridge.Outbound, "+358401234000", "private", "+358401234000"},
		{"numbers[1]", bridge.Inbound, "+358501234999", "unclassified", "+358501234999"},
		{"no rule", bridge.Inbound, "+358401234567", "work", "+358401234567"},
	} {
		a := call(tt.dir, "101", tt.number)
		if a.Privacy != tt.privacy || a.RemoteNumber != tt.remote {
			t.Errorf("%s: privacy %q remote %q, want %q %q", tt.name, a.Privacy, a.RemoteNumber, tt.privacy, tt.remote)
		}
	}
}

// TestDialogConfig: the sip section becomes the tracker's configuration
// `run` and `replay --pcap --config` share.
func TestDialogConfig(t *testing.T) {
	c := Default()
	c.Trunks = []string{"carrier"}
	c.Users = []User{{Extension: "101"}, {Extension: "102"}}
	c.SIP.PBXAddresses = []string{"10.0.0.5", "10.0.0.6:5080"}
	c.SIP.TrunkAddresses = []string{"192.0.2.0/24"}
	c.SIP.Conferences = map[string][]string{"800": {"800", "+35850111800"}}
	dc := c.DialogConfig()
	pbx := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	if len(dc.PBX) != 2 || !dc.PBX[0].Match(pbx("10.0.0.5:5060")) || !dc.PBX[0].Match(pbx("10.0.0.5:7000")) ||
		!dc.PBX[1].Match(pbx("10.0.0.6:5080")) || dc.PBX[1].Match(pbx("10.0.0.6:5060")) {
		t.Errorf("PBX = %v", dc.PBX)
	}
	if len(dc.Trunks) != 1 || !dc.Trunks[0].Addr.Match(pbx("192.0.2.77:5060")) || dc.Trunks[0].Addr.Match(pbx("192.0.3.1:5060")) {
		t.Errorf("Trunks = %v", dc.Trunks)
	}
	if dc.TrunkName != "carrier" || strings.Join(dc.Users, ",") != "101,102" || dc.ExtensionPattern == nil {
		t.Errorf("TrunkName %q, Users %v, pattern %v", dc.TrunkName, dc.Users, dc.ExtensionPattern)
	}
	if dc.Conferences["800"] != "800" || dc.Conferences["+35850111800"] != "800" || len(dc.Conferences) != 2 {
		t.Errorf("Conferences = %v", dc.Conferences)
	}
}

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		region, in, want string
		ok               bool
	}{
		{"FI", "0401234567", "+358401234567", true},
		{"FI", "101", "", false},
		{"", "0401234567", "", false},
		{"", "+358401234567", "", false},
	}
	for _, tt := range tests {
		c := Default()
		c.DefaultRegion = tt.region
		got, ok := c.NormalizeNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("region %q: NormalizeNumber(%q) = %q, %v; want %q, %v", tt.region, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLevel(t *testing.T) {
	for in, want := range map[string]string{"debug": "debug", "info": "info", "warn": "warn", "error": "error", "bogus": "info"} {
		c := Default()
		c.LogLevel = in
		if got := c.Level().String(); got != want {
			t.Errorf("Level(%q) = %s, want %s", in, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for b.Loop() {
		if _, err := load(data, dir, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReferenceHasEveryKey keeps docs/config.md in step with Config: every
// key path appears there in backquotes, lists written as users[].extension.
func TestReferenceHasEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	typePaths(reflect.TypeFor[Config](), "", &keys)
	for _, k := range keys {
		for _, list := range []string{"users.", "crm.", "privacy.prefixes.", "privacy.numbers.", "http.dialplan_tokens.", "routing.rules.", "callbacks.profiles."} {
			if strings.HasPrefix(k, list) {
				k = strings.Replace(k, list, strings.TrimSuffix(list, ".")+"[].", 1)
			}
		}
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md lacks `%s`", k)
		}
	}
}

// users[].direct_number, read with default_region, is what routing
// answers for target direct_number; every user is listed.
func TestDirectNumbers(t *testing.T) {
	c := valid()
	c.Users[0].DirectNumber = "050 111 2222"
	got := c.DirectNumbers()
	if got[c.Users[0].Extension] != "+358501112222" || len(got) != len(c.Users) {
		t.Errorf("DirectNumbers() = %v", got)
	}
	if v, ok := got[c.Users[1].Extension]; !ok || v != "" {
		t.Errorf("a user without a direct number: %q %v", v, ok)
	}
}
