package config

import (
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/routing"
)

// Config is the whole of callbridge's configuration. The YAML keys are the
// field tags; docs/config.md and example.yaml describe each one.
type Config struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// StateDir holds the delivery store and, by default, the activity
	// file. systemd's StateDirectory=callbridge creates the default.
	StateDir string `yaml:"state_dir"`
	// PBXID namespaces activity ids when several PBXs feed one CRM.
	PBXID string `yaml:"pbx_id"`

	ARI ARI `yaml:"ari"`
	AMI AMI `yaml:"ami"`
	SIP SIP `yaml:"sip"`

	// Users is the user directory. Empty means: any endpoint whose name
	// matches ExtensionPattern is a user.
	Users []User `yaml:"users"`
	// ExtensionPattern is a Go regular expression for user endpoints.
	ExtensionPattern string `yaml:"extension_pattern"`
	// Trunks names the endpoints that lead outside: never users.
	Trunks []string `yaml:"trunks"`
	// DefaultRegion is the ISO 3166-1 region ("FI") for numbers written
	// in national form; empty leaves remote_e164 out.
	DefaultRegion string `yaml:"default_region"`
	// Privacy classifies calls by the number dialled or the remote
	// number, for dialplans that do not set CALLBRIDGE_PRIVACY and for
	// SIP, which cannot see channel variables.
	Privacy Privacy `yaml:"privacy"`

	Sink Sink `yaml:"sink"`
	HTTP HTTP `yaml:"http"`

	// DDINames names the numbers callers dial ("+35850111222": Support),
	// so that a caller card tells the lines apart.
	DDINames map[string]string `yaml:"ddi_names"`
	// ClickToDial places calls for agents (agents.go).
	ClickToDial ClickToDial `yaml:"click_to_dial"`

	// Store is the durable delivery queue.
	Store Store `yaml:"store"`
	// Policy decides which activities reach the CRM (duration limit,
	// start margin, privacy, per-user settings).
	Policy crmsync.PolicyConfig `yaml:"policy"`
	// Delivery tunes the delivery workers (concurrency, backoff, leases).
	Delivery crmsync.DeliveryConfig `yaml:"delivery"`
	// CRM lists the connectors activities are delivered to. Empty: the
	// activities only go to sink.file.
	CRM []connectors.ConnectorConfig `yaml:"crm"`

	// Routing answers the dialplan's "where does this caller go"
	// (/api/route): the first matching rule's target.
	Routing routing.Config `yaml:"routing"`
	// Wrapup is agents' dispositions of calls (/api/calls/{id}/disposition).
	Wrapup crmsync.WrapupConfig `yaml:"wrapup"`
	// Callbacks are callers' requests to be called back (/api/callbacks).
	Callbacks crmsync.CallbacksConfig `yaml:"callbacks"`
	// CEL is Asterisk's own call history, read after every reconnect or
	// restart for the calls the sources did not see whole (docs/cel.md).
	// Off when Type is empty.
	CEL cel.Config `yaml:"cel"`
}

// Store chooses where the delivery queue lives.
type Store struct {
	// Type is "embedded" (bbolt under state_dir, the zero-setup default)
	// or "redis" (production, and the way to run several instances).
	Type string `yaml:"type"`
	// RedisURL: redis://, rediss://, redis+sentinel://…?master_name=, or
	// redis+cluster://. It may hold a password, so it is a secret.
	RedisURL     Secret `yaml:"redis_url"`
	RedisURLFile string `yaml:"redis_url_file"`
	// RedisPrefix starts every key, so deployments can share a Redis.
	// Default "callbridge".
	RedisPrefix string `yaml:"redis_prefix"`
	// WaitReplicas is how many replicas must have an activity's job before
	// intake counts it as kept (Redis WAIT): replication is asynchronous,
	// and a failover can lose what only the old master had. 0: the
	// master's word is enough.
	WaitReplicas int `yaml:"wait_replicas"`
	// WaitTimeout bounds each wait; a job not replicated within it is
	// written again (idempotently) until it is. Default 2s.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
}

// Store types.
const (
	StoreEmbedded = "embedded"
	StoreRedis    = "redis"
)

// ARI is the Asterisk REST Interface source: an events websocket.
type ARI struct {
	// URL is the ARI base, e.g. http://127.0.0.1:8088/ari.
	URL string `yaml:"url"`
	// Application is the Stasis application name the events socket
	// registers; with subscribeAll no call has to enter it.
	Application  string `yaml:"application"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Enabled defaults to true when URL is set. Nil means "not given".
	Enabled *bool `yaml:"enabled"`
}

// On reports whether the ARI source is to run.
func (a ARI) On() bool {
	if a.Enabled == nil {
		return a.URL != ""
	}
	return *a.Enabled
}

// AMI is the Asterisk Manager Interface source, configured when Host is set.
type AMI struct {
	Host       string `yaml:"host"`
	Port       int    `yaml:"port"`
	Username   string `yaml:"username"`
	Secret     Secret `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	TLS        bool   `yaml:"tls"`
}

// On reports whether the AMI source is to run.
func (a AMI) On() bool { return a.Host != "" }

// SIP is the SIP source: HEP packets from Asterisk's res_hep (or a capture
// agent), configured when at least one listen address is set.
type SIP struct {
	HEPListenUDP []string `yaml:"hep_listen_udp"`
	HEPListenTCP []string `yaml:"hep_listen_tcp"`
	// HEPAuthKey, when set, is the password capture agents must send
	// (Asterisk hep.conf capture_password); packets without it are
	// dropped and counted.
	HEPAuthKey     Secret `yaml:"hep_auth_key"`
	HEPAuthKeyFile string `yaml:"hep_auth_key_file"`
	// HEPAllowedSources are the capture agents' networks (CIDRs, or
	// addresses): a listener off loopback takes HEP from them only, and
	// needs them.
	HEPAllowedSources []string `yaml:"hep_allowed_sources"`
	// PBXAddresses are the PBX's own SIP addresses (IP, IP:port or
	// prefix): packets from them are the PBX speaking.
	PBXAddresses []string `yaml:"pbx_addresses"`
	// TrunkAddresses are the carriers' addresses (IP, IP:port or prefix):
	// parties there are external.
	TrunkAddresses []string `yaml:"trunk_addresses"`
	// Conferences lists, by room, the numbers that reach each conference
	// room (as phones dial it, and DIDs): SIP does not show who meets in
	// a room.
	Conferences map[string][]string `yaml:"conferences"`
	// Subscribe watches extensions with RFC 4235 dialog-event
	// subscriptions for live screen-pop states (never for activities).
	Subscribe Subscribe `yaml:"subscribe"`
}

// Subscribe is the dialog-event subscriber, on when PBX is set.
type Subscribe struct {
	// PBX is the notifier, host:port (the PBX's SIP address).
	PBX string `yaml:"pbx"`
	// Listen is the local UDP address NOTIFYs arrive on. Default
	// 0.0.0.0:5070.
	Listen string `yaml:"listen"`
	// Contact is the host:port the PBX sends NOTIFYs to, when Listen is a
	// wildcard the PBX cannot reach as it is.
	Contact string `yaml:"contact"`
	// AllowedSources are the networks (CIDRs, or addresses) Listen takes
	// packets from, the PBX's: required when Listen is off loopback.
	AllowedSources []string `yaml:"allowed_sources"`
	// Extensions to watch; empty: every user of the directory.
	Extensions []string `yaml:"extensions"`
	// Expiry asked for each subscription. Default 600s.
	Expiry time.Duration `yaml:"expiry"`
	// Username and Password answer digest challenges.
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// On reports whether the subscriber is to run.
func (s Subscribe) On() bool { return s.PBX != "" }

// On reports whether the SIP source is to run.
func (s SIP) On() bool { return len(s.HEPListenUDP)+len(s.HEPListenTCP) > 0 }

// User is one internal party of the user directory.
type User struct {
	Extension string `yaml:"extension"`
	Name      string `yaml:"name"`
	Email     string `yaml:"email"`
	// Mobile is the user's own mobile number (international or, with
	// DefaultRegion, national form), for recognising calls forwarded
	// there.
	Mobile string `yaml:"mobile"`
	// Endpoints are device names when they are not the extension itself.
	Endpoints []string `yaml:"endpoints"`
	// CRMUserID maps the user to a CRM user directly, skipping lookup by
	// e-mail.
	CRMUserID string `yaml:"crm_user_id"`
	// TokenFile / TokenCredential give the user's agent token: their own
	// live calls on the API (http), nobody else's.
	TokenFile       string `yaml:"token_file"`
	TokenCredential string `yaml:"token_credential"`
	// Token is what the file or credential holds.
	Token Secret `yaml:"-"`
	// DirectNumber is the user's own external number, for routing rules
	// that send callers there (target: direct_number).
	DirectNumber string `yaml:"direct_number"`
}

// Privacy rules every source applies (bridge.PrivacyRules).
type Privacy struct {
	// Prefixes are codes dialled before a number that mark the call.
	Prefixes []PrivacyPrefix `yaml:"prefixes"`
	// Numbers are remote numbers whose calls are never work calls.
	Numbers []PrivacyNumber `yaml:"numbers"`
}

// PrivacyPrefix: a call the user dialled as Prefix<number> is of Class,
// and its remote number is what follows the prefix.
type PrivacyPrefix struct {
	Prefix string `yaml:"prefix"`
	Class  string `yaml:"class"`
}

// PrivacyNumber: calls with remote number Number are of Class.
type PrivacyNumber struct {
	Number string `yaml:"number"`
	Class  string `yaml:"class"`
}

// Sink is where `callbridge run` writes finished activities.
type Sink struct {
	// File is a JSON-lines file; empty means <state_dir>/activities.jsonl.
	File string `yaml:"file"`
}

// Defaults.
const (
	DefaultLogLevel         = "info"
	DefaultStateDir         = "/var/lib/callbridge"
	DefaultARIApplication   = "callbridge"
	DefaultAMIPort          = 5038
	DefaultExtensionPattern = `^[0-9]{2,6}$`
	DefaultHTTPListen       = "127.0.0.1:9089"
	DefaultSinkName         = "activities.jsonl"
	DefaultSubscribeListen  = "0.0.0.0:5070"
	DefaultSubscribeExpiry  = 600 * time.Second
	DefaultWaitTimeout      = 2 * time.Second
)

// Default returns the configuration an empty file gives.
func Default() *Config {
	c := defaults()
	c.derive()
	return c
}

// defaults are the values a file's keys override. Values that depend on
// other keys are filled in by derive after decoding.
func defaults() *Config {
	return &Config{
		LogLevel:         DefaultLogLevel,
		StateDir:         DefaultStateDir,
		ARI:              ARI{Application: DefaultARIApplication},
		AMI:              AMI{Port: DefaultAMIPort},
		SIP:              SIP{Subscribe: Subscribe{Listen: DefaultSubscribeListen, Expiry: DefaultSubscribeExpiry}},
		ExtensionPattern: DefaultExtensionPattern,
		HTTP:             HTTP{Listen: DefaultHTTPListen, Public: DefaultPublic(), Limits: DefaultHTTPLimits()},
		Store:            Store{Type: StoreEmbedded, WaitTimeout: DefaultWaitTimeout},
		Policy:           crmsync.DefaultPolicyConfig(),
		Delivery:         crmsync.DefaultDeliveryConfig(),
		Wrapup:           crmsync.DefaultWrapupConfig(),
	}
}

// derive fills defaults that depend on other keys.
func (c *Config) derive() {
	if c.Sink.File == "" && c.StateDir != "" {
		c.Sink.File = filepath.Join(c.StateDir, DefaultSinkName)
	}
	if c.ARI.Enabled == nil {
		on := c.ARI.URL != ""
		c.ARI.Enabled = &on
	}
	c.deriveAgents()
}

// CELOn reports whether the cel: section is set up.
func (c *Config) CELOn() bool { return c.CEL.Type != "" }

// Level is LogLevel as a zerolog level (info when it is not valid).
func (c *Config) Level() zerolog.Level {
	switch c.LogLevel {
	case "debug":
		return zerolog.DebugLevel
	case "warn":
		return zerolog.WarnLevel
	case "error":
		return zerolog.ErrorLevel
	}
	return zerolog.InfoLevel
}

// EngineConfig is what the call-state engine needs from the configuration.
// The caller sets Source. An invalid extension_pattern (which Validate
// reports) leaves the engine's default pattern in place.
func (c *Config) EngineConfig() bridge.Config {
	ec := bridge.Config{PBX: c.PBXID}
	if re, err := regexp.Compile(c.ExtensionPattern); err == nil && c.ExtensionPattern != "" {
		ec.ExtensionPattern = re
	}
	for _, u := range c.Users {
		bu := bridge.User{
			Extension: u.Extension,
			Name:      u.Name,
			Email:     u.Email,
			Endpoints: append([]string(nil), u.Endpoints...),
		}
		if u.Mobile != "" {
			bu.Mobiles = []string{u.Mobile}
		}
		ec.Users = append(ec.Users, bu)
	}
	ec.Trunks = append([]string(nil), c.Trunks...)
	for _, r := range c.Privacy.Prefixes {
		ec.Privacy.Prefixes = append(ec.Privacy.Prefixes, bridge.PrivacyPrefix{Prefix: r.Prefix, Class: r.Class})
	}
	for _, r := range c.Privacy.Numbers {
		ec.Privacy.Numbers = append(ec.Privacy.Numbers, bridge.PrivacyNumber{Number: r.Number, Class: r.Class})
	}
	return ec
}

// NormalizeNumber returns num in E.164 form using DefaultRegion. It gives
// "", false when no region is configured, or num is not a possible number
// (an extension, "anonymous", a feature code).
func (c *Config) NormalizeNumber(num string) (e164 string, ok bool) {
	return c.Normalizer().Normalize(num)
}

// Normalizer is a number normaliser for DefaultRegion, for callers that
// normalise many numbers.
func (c *Config) Normalizer() phone.Normalizer {
	return phone.NewNormalizer(c.DefaultRegion)
}

// DirectNumbers has every user's extension with their direct number in
// E.164 ("" when none or when it does not normalise, which Validate
// reports).
func (c *Config) DirectNumbers() map[string]string {
	norm := c.Normalizer()
	out := make(map[string]string, len(c.Users))
	for _, u := range c.Users {
		n := strings.TrimSpace(u.DirectNumber)
		if e, ok := norm.Normalize(n); ok {
			n = e
		} else if !strings.HasPrefix(n, "+") {
			n = ""
		}
		out[u.Extension] = n
	}
	return out
}
