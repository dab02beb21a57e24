package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/config"
)

// testEnv is the machine the config table is checked on: two local
// addresses, and a resolver that knows localhost and pbx.example only,
// so that no name is looked up in a real DNS.
var testEnv = config.Env{
	LookupHost: func(_ context.Context, host string) ([]string, error) {
		switch host {
		case "localhost":
			return []string{"127.0.0.1", "::1"}, nil
		case "pbx.example":
			return []string{"192.0.2.10"}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	},
	LocalAddrs: func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("198.51.100.7")}, nil
	},
}

func useTestEnv(t *testing.T) {
	old := checkEnv
	checkEnv = testEnv
	t.Cleanup(func() { checkEnv = old })
	t.Setenv("CREDENTIALS_DIRECTORY", "")
}

// Pieces of the configs below; {dir} is each case's own directory.
const (
	state  = "state_dir: {dir}/state\n"
	ariOK  = "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  password: pw\n"
	httpOK = "http:\n  listen: 127.0.0.1:0\n"
	base   = state + ariOK + httpOK
	hook   = "crm:\n  - name: hook\n    type: webhook\n    webhook:\n      url: https://crm.example/hook\n"
	dyn    = "  - name: dyn\n    type: dynamics\n    dynamics:\n      url: https://contoso.crm4.dynamics.com\n      tenant_id: contoso.onmicrosoft.com\n      client_id: 11111111-2222-3333-4444-555555555555\n      client_secret: s3cret\n"
)

// tokens are what a listener off loopback needs, from tokenFiles.
const tokens = "  admin_token_file: admin.token\n  dialplan_tokens:\n    - {name: pbx, token_file: pbx.token}\n"

var tokenFiles = map[string]string{"admin.token": "4f1c2a9e7b3d5f6081a2c4e6b8d0f1e3\n", "pbx.token": "9b8a7c6d5e4f30211f2e3d4c5b6a7988\n"}

// badConfig is one config `config check` and `run` must both refuse.
type badConfig struct {
	name string
	yaml string // the file; "" for none at all
	// files are created in the case's directory first: a name ending
	// in / is a directory.
	files map[string]string
	env   map[string]string // set for the case
	want  []string          // the problems, one a line, {dir} replaced
}

var badConfigs = []badConfig{
	// Decoding.
	{name: "no file",
		want: []string{"cannot read it: no such file or directory"}},
	{name: "not YAML", yaml: "ari:\n url: x\n  username: y\n",
		want: []string{"line 3: mapping values are not allowed in this context"}},
	{name: "a list, not a mapping", yaml: "- a\n- b\n",
		want: []string{"line 1: the config must be a mapping of keys (log_level: …, ari: …)"}},
	{name: "two documents", yaml: base + "---\nlog_level: debug\n",
		want: []string{"line 8: a second YAML document; the config is one document"}},
	{name: "duplicate key", yaml: base + "log_level: info\nlog_level: debug\n",
		want: []string{`line 9: log_level: mapping key "log_level" already defined at line 8`}},
	{name: "unknown top-level key", yaml: base + "logg_level: info\n",
		want: []string{"line 8: logg_level: unknown key (did you mean log_level?)"}},
	{name: "unknown nested key", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  pasword: pw\n",
		want: []string{
			"line 7: ari.pasword: unknown key (did you mean password?)",
			"ari.password: required (or ari.password_file)",
		}},
	{name: "wrong type", yaml: base + "ami:\n  port: five\n",
		want: []string{"line 9: ami.port: cannot unmarshal !!str `five` into int"}},
	{name: "a list for a string", yaml: base + "log_level: [debug]\n",
		want: []string{"line 8: log_level: cannot unmarshal !!seq into string"}},
	// Top level.
	{name: "log level", yaml: base + "log_level: loud\n",
		want: []string{`log_level: "loud" is not one of debug, info, warn, error`}},
	{name: "no state_dir", yaml: ariOK + httpOK + "state_dir: \"\"\n",
		want: []string{
			"state_dir: required",
			"sink.file: required (or set state_dir)",
		}},
	{name: "pbx_id", yaml: base + "pbx_id: \"-hq\"\n",
		want: []string{`pbx_id: "-hq": use 1–64 letters, digits, '.', '_' or '-'`}},
	{name: "no source", yaml: state + httpOK,
		want: []string{"no source configured: set ari.url, ami.host or sip.hep_listen_udp/hep_listen_tcp"}},
	// ARI.
	{name: "ari.url scheme", yaml: state + httpOK + "ari:\n  url: ftp://127.0.0.1/ari\n  username: cb\n  password: pw\n",
		want: []string{`ari.url: "ftp://127.0.0.1/ari": scheme must be http or https`}},
	{name: "ari.url credentials", yaml: state + httpOK + "ari:\n  url: http://cb:pw@127.0.0.1:8088/ari\n  username: cb\n  password: pw\n",
		want: []string{"ari.url: credentials in the URL; use ari.username and ari.password"}},
	{name: "ari.url port out of range", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:99999/ari\n  username: cb\n  password: pw\n",
		want: []string{`ari.url: "http://127.0.0.1:99999/ari": port "99999" is not a port (1–65535)`}},
	{name: "ari.url port not a number", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:ari/ari\n  username: cb\n  password: pw\n",
		want: []string{"ari.url: not a URL (look at its host and port)"}},
	{name: "ari.username with a colon", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: \"cb:x\"\n  password: pw\n",
		want: []string{`ari.username: "cb:x": must not contain ':' or a line break`}},
	{name: "ari.application", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  application: call bridge\n  username: cb\n  password: pw\n",
		want: []string{`ari.application: "call bridge": must not contain spaces or URL punctuation`}},
	{name: "no ari.password", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n",
		want: []string{"ari.password: required (or ari.password_file)"}},
	{name: "missing ari.password_file", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  password_file: nope\n",
		want: []string{`ari.password_file: reading "{dir}/nope": no such file or directory`}},
	{name: "empty ari.password_file", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  password_file: empty\n",
		files: map[string]string{"empty": "\n"},
		want:  []string{`ari.password_file: "{dir}/empty" is empty`}},
	{name: "both password forms", yaml: state + httpOK + "ari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  password: pw\n  password_file: pw\n",
		files: map[string]string{"pw": "pw\n"},
		want:  []string{"ari.password_file: set both ari.password and ari.password_file; keep one"}},
	// AMI.
	{name: "ami.host with a port", yaml: state + httpOK + "ami:\n  host: \"pbx:5038\"\n  username: cb\n  secret: s\n",
		want: []string{`ami.host: "pbx:5038": a host name or IP address, without port (see ami.port)`}},
	{name: "ami.port", yaml: base + "ami:\n  port: 0\n",
		want: []string{"ami.port: 0 is not a port (1–65535)"}},
	{name: "no ami.username", yaml: state + httpOK + "ami:\n  host: 127.0.0.1\n  secret: s\n",
		want: []string{"ami.username: required"}},
	{name: "missing ami.secret_file", yaml: state + httpOK + "ami:\n  host: 127.0.0.1\n  username: cb\n  secret_file: ami-secret\n",
		want: []string{`ami.secret_file: reading "{dir}/ami-secret": no such file or directory`}},
	{name: "ami.secret with a line break", yaml: state + httpOK + "ami:\n  host: 127.0.0.1\n  username: cb\n  secret: \"s3\\r\\nAction: Originate\"\n",
		want: []string{"ami.secret: must not contain a line break"}},
	// SIP.
	{name: "a HEP listener off loopback without allowed sources", yaml: base + "sip:\n  hep_listen_udp: [\"127.0.0.1:9060\", \"0.0.0.0:9062\"]\n",
		want: []string{`sip.hep_allowed_sources: required: sip.hep_listen_udp[1] "0.0.0.0:9062" is off loopback; list the capture agents' addresses (CIDRs) so that nobody else can send HEP`}},
	{name: "HEP listener without port", yaml: base + "sip:\n  hep_listen_tcp: [\"9060\"]\n  hep_allowed_sources: [127.0.0.1]\n",
		want: []string{`sip.hep_listen_tcp[0]: "9060": want host:port`}},
	{name: "HEP listener unresolvable", yaml: base + "sip:\n  hep_listen_udp: [\"capture.invalid:9060\"]\n  hep_allowed_sources: [127.0.0.1]\n",
		want: []string{`sip.hep_listen_udp[0]: "capture.invalid:9060": cannot resolve capture.invalid: no such host`}},
	{name: "HEP listener on another machine's address", yaml: base + "sip:\n  hep_listen_udp: [\"192.0.2.1:9060\"]\n  hep_allowed_sources: [127.0.0.1]\n",
		want: []string{`sip.hep_listen_udp[0]: "192.0.2.1:9060": 192.0.2.1 is not an address of this machine`}},
	{name: "HEP listener on a name of another machine", yaml: base + "sip:\n  hep_listen_tcp: [\"pbx.example:9061\"]\n  hep_allowed_sources: [127.0.0.1]\n",
		want: []string{`sip.hep_listen_tcp[0]: "pbx.example:9061": pbx.example is not an address of this machine (it resolves to [192.0.2.10])`}},
	{name: "sip.pbx_addresses", yaml: base + "sip:\n  pbx_addresses: [pbx.example]\n",
		want: []string{`sip.pbx_addresses[0]: "pbx.example": want an IP address, IP:port or prefix (10.0.0.0/24)`}},
	{name: "sip.trunk_addresses", yaml: base + "sip:\n  trunk_addresses: [\"10.0.0.0/33\"]\n",
		want: []string{`sip.trunk_addresses[0]: "10.0.0.0/33": want an IP address, IP:port or prefix (10.0.0.0/24)`}},
	{name: "sip.subscribe.expiry", yaml: base + "sip:\n  subscribe:\n    pbx: 127.0.0.1:5060\n    allowed_sources: [127.0.0.1]\n    extensions: [\"101\"]\n    expiry: 10s\n",
		want: []string{"sip.subscribe.expiry: 10s: want 1m to 24h"}},
	{name: "sip.subscribe without extensions", yaml: base + "sip:\n  subscribe:\n    pbx: 127.0.0.1:5060\n    allowed_sources: [127.0.0.1]\n",
		want: []string{"sip.subscribe.extensions: required when the user directory (users) is empty"}},
	{name: "sip.subscribe.listen unresolvable", yaml: base + "sip:\n  subscribe:\n    pbx: 127.0.0.1:5060\n    allowed_sources: [127.0.0.1]\n    listen: notify.invalid:5070\n    extensions: [\"101\"]\n",
		want: []string{`sip.subscribe.listen: "notify.invalid:5070": cannot resolve notify.invalid: no such host`}},
	{name: "sip.subscribe username without password", yaml: base + "sip:\n  subscribe:\n    pbx: 127.0.0.1:5060\n    allowed_sources: [127.0.0.1]\n    extensions: [\"101\"]\n    username: cb\n",
		want: []string{"sip.subscribe.password: required with a username (or sip.subscribe.password_file)"}},
	{name: "sip.subscribe extension not a user part", yaml: base + "sip:\n  subscribe:\n    pbx: 127.0.0.1:5060\n    allowed_sources: [127.0.0.1]\n    extensions: [\"101;x\", \"102\", \"102\"]\n",
		want: []string{
			`sip.subscribe.extensions[0]: "101;x" is not a SIP user part (no spaces, '@', ':', ';', '<', '>' or quotes)`,
			`sip.subscribe.extensions[2]: "102" listed twice`,
		}},
	// HTTP.
	{name: "http.listen without port", yaml: state + ariOK + "http:\n  listen: \"9089\"\n",
		want: []string{`http.listen: "9089": want host:port`}},
	{name: "http.listen unresolvable", yaml: state + ariOK + "http:\n  listen: callbridge.invalid:9089\n" + tokens, files: tokenFiles,
		want: []string{`http.listen: "callbridge.invalid:9089": cannot resolve callbridge.invalid: no such host`}},
	{name: "http.listen on another machine's address", yaml: state + ariOK + "http:\n  listen: 10.255.255.1:9089\n" + tokens, files: tokenFiles,
		want: []string{`http.listen: "10.255.255.1:9089": 10.255.255.1 is not an address of this machine`}},
	// Files and directories.
	{name: "state_dir is a file", yaml: base, files: map[string]string{"state": "x"},
		want: []string{`state_dir: "{dir}/state": not a directory`}},
	{name: "state_dir cannot be created", yaml: "state_dir: {dir}/file/state\n" + ariOK + httpOK, files: map[string]string{"file": "x"},
		want: []string{`state_dir: "{dir}/file/state": cannot be created: {dir}/file is not a directory`}},
	{name: "the journal is in the way", yaml: base, files: map[string]string{"state/": "", "state/journal": "x"},
		want: []string{`state_dir: "{dir}/state": {dir}/state/journal is in the way: run keeps a directory there`}},
	{name: "the queue is in the way", yaml: base, files: map[string]string{"state/": "", "state/queue": "x"},
		want: []string{`state_dir: "{dir}/state": {dir}/state/queue is in the way: run keeps a directory there`}},
	{name: "sink.file is a directory", yaml: base + "sink:\n  file: {dir}/out\n", files: map[string]string{"out/": ""},
		want: []string{`sink.file: "{dir}/out": is a directory; name a file in it (activities.jsonl)`}},
	{name: "sink.file cannot be created", yaml: base + "sink:\n  file: {dir}/file/activities.jsonl\n", files: map[string]string{"file": "x"},
		want: []string{`sink.file: "{dir}/file/activities.jsonl": cannot be created: {dir}/file is not a directory`}},
	// Store.
	{name: "store.type", yaml: base + "store:\n  type: memory\n",
		want: []string{`store.type: "memory" is not one of embedded, redis`}},
	{name: "redis_url with the embedded store", yaml: base + "store:\n  redis_url: redis://127.0.0.1:6379/0\n",
		want: []string{`store.redis_url: set, but store.type is "embedded": set store.type: redis`}},
	{name: "redis without a URL", yaml: base + "store:\n  type: redis\n",
		want: []string{"store.redis_url: required for store.type redis (or store.redis_url_file)"}},
	{name: "redis port 99999", yaml: base + "store:\n  type: redis\n  redis_url: redis://:hunter2@127.0.0.1:99999/0\n",
		want: []string{`store.redis_url: port "99999" is not a port (1–65535)`}},
	{name: "redis database abc", yaml: base + "store:\n  type: redis\n  redis_url: redis://127.0.0.1:6379/abc\n",
		want: []string{`store.redis_url: invalid database number: "abc"`}},
	{name: "sentinel without master_name", yaml: base + "store:\n  type: redis\n  redis_url: redis+sentinel://:hunter2@127.0.0.1:26379/0\n",
		want: []string{"store.redis_url: master_name is required for sentinel (?master_name=mymaster)"}},
	{name: "redis URL scheme", yaml: base + "store:\n  type: redis\n  redis_url: http://:hunter2@127.0.0.1:6379\n",
		want: []string{`store.redis_url: scheme "http": want redis, rediss, redis+sentinel or redis+cluster`}},
	{name: "missing redis_url_file", yaml: base + "store:\n  type: redis\n  redis_url_file: redis-url\n",
		want: []string{`store.redis_url_file: reading "{dir}/redis-url": no such file or directory`}},
	{name: "store.wait_replicas with the embedded store", yaml: base + "store:\n  wait_replicas: 1\n",
		want: []string{"store.wait_replicas: only with store.type redis"}},
	{name: "store.wait_replicas out of range", yaml: base + "store:\n  type: redis\n  redis_url: redis://127.0.0.1:6379/0\n  wait_replicas: 17\n",
		want: []string{"store.wait_replicas: 17: want 0 (do not wait) to 16"}},
	{name: "store.wait_timeout", yaml: base + "store:\n  type: redis\n  redis_url: redis://127.0.0.1:6379/0\n  wait_replicas: 1\n  wait_timeout: 5ms\n",
		want: []string{"store.wait_timeout: 5ms: want 10ms to 1m"}},
	// CEL.
	{name: "cel.type", yaml: base + "cel:\n  type: oracle\n",
		want: []string{`cel.type: "oracle": want csv, postgres or mysql`}},
	{name: "cel csv without a file", yaml: base + "cel:\n  type: csv\n",
		want: []string{"cel.file: required with type csv"}},
	{name: "cel.fields", yaml: base + "cel:\n  type: csv\n  file: /var/log/asterisk/cel-custom/Master.csv\n  fields: [EventType, EventTime, UniqueID, LinkedID, ChanName, colour]\n",
		want: []string{`cel.fields[5]: unknown CEL field "colour"`}},
	{name: "cel database keys with csv", yaml: base + "cel:\n  type: csv\n  file: /var/log/asterisk/cel-custom/Master.csv\n  dsn: host=pbx\n  password_file: cel-pw\n",
		want: []string{"cel.dsn: only with type postgres or mysql", "cel.password_file: only with type postgres or mysql"}},
	{name: "cel.fields with postgres", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge\n  fields: [eventtype]\n",
		want: []string{"cel.fields: only with type csv"}},
	{name: "cel without a dsn", yaml: base + "cel:\n  type: mysql\n",
		want: []string{"cel.dsn: required with type mysql"}},
	{name: "cel.dsn with a password", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge password=hunter2\n",
		want: []string{"cel.dsn: holds a password; put it in password, password_file or password_credential"}},
	{name: "cel.dsn with a MySQL password", yaml: base + "cel:\n  type: mysql\n  dsn: callbridge:hunter2@tcp(pbx:3306)/asteriskcdrdb\n",
		want: []string{"cel.dsn: holds a password; put it in password, password_file or password_credential"}},
	{name: "cel.table", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge\n  table: cel; drop table cel\n",
		want: []string{`cel.table: "cel; drop table cel": want a table name, optionally schema.table (letters, digits, _)`}},
	{name: "cel.time_zone", yaml: base + "cel:\n  type: csv\n  file: /var/log/asterisk/cel-custom/Master.csv\n  time_zone: Mars/Base\n",
		want: []string{`cel.time_zone: "Mars/Base": not a time zone (an IANA name such as Europe/Helsinki, UTC or Local)`}},
	{name: "cel.margin", yaml: base + "cel:\n  type: csv\n  file: /var/log/asterisk/cel-custom/Master.csv\n  margin: 48h\n",
		want: []string{"cel.margin: want 0 (the default, 2m0s) to 24h"}},
	{name: "two cel password forms", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge\n  password: pw\n  password_credential: cel-password\n",
		want: []string{"cel.password: set only one of password, password_file, password_credential"}},
	{name: "missing cel.password_file", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge\n  password_file: cel-pw\n",
		want: []string{`cel.password_file: reading "{dir}/cel-pw": no such file or directory`}},
	{name: "cel.password_credential outside systemd", yaml: base + "cel:\n  type: mysql\n  dsn: callbridge@tcp(pbx:3306)/asteriskcdrdb\n  password_credential: cel-password\n",
		want: []string{"cel.password_credential: $CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=); outside systemd use cel.password_file"}},
	{name: "cel.password_credential not loaded", yaml: base + "cel:\n  type: mysql\n  dsn: callbridge@tcp(pbx:3306)/asteriskcdrdb\n  password_credential: cel-password\n",
		files: map[string]string{"creds/": ""}, env: map[string]string{"CREDENTIALS_DIRECTORY": "{dir}/creds"},
		want: []string{`cel.password_credential: reading "{dir}/creds/cel-password": no such file or directory`}},
	{name: "cel.password_credential a path", yaml: base + "cel:\n  type: postgres\n  dsn: host=pbx user=callbridge\n  password_credential: ../cel-password\n",
		want: []string{`cel.password_credential: "../cel-password": a credential name, not a path`}},
	// Policy and delivery.
	{name: "policy.start_margin", yaml: base + "policy:\n  start_margin: 2h\n",
		want: []string{"policy.start_margin: at most 1h (starts are remembered for a limited time)"}},
	{name: "policy.defaults.crm_user", yaml: base + "policy:\n  defaults:\n    crm_user: 5c2d0a8e-0000-4000-8000-000000000001\n",
		want: []string{"policy.defaults.crm_user: one CRM user for everybody is default_assignee: set that instead"}},
	{name: "policy screen pop", yaml: base + "policy:\n  users:\n    \"101\":\n      screen_pop:\n        open: ring\n",
		want: []string{`policy.users["101"].screen_pop.open: "ring": want "call" or "connected"`}},
	{name: "policy e-mail", yaml: base + "policy:\n  users:\n    \"101\":\n      email: alice\n",
		want: []string{`policy.users["101"].email: "alice" is not an e-mail address`}},
	{name: "delivery.lease", yaml: base + "delivery:\n  lease: 10s\n  push_timeout: 30s\n",
		want: []string{"delivery.lease: must be longer than push_timeout (30s)"}},
	// The directory.
	{name: "duplicate extension", yaml: base + "users:\n  - extension: \"101\"\n  - extension: \"101\"\n",
		want: []string{`users[1].extension: "101" is also users[0].extension`}},
	{name: "users e-mail", yaml: base + "users:\n  - extension: \"101\"\n    email: Alice <alice@example.com>\n",
		want: []string{`users[0].email: "Alice <alice@example.com>" is not a plain e-mail address`}},
	{name: "mobile without region", yaml: base + "users:\n  - extension: \"101\"\n    mobile: \"0401111101\"\n",
		want: []string{`users[0].mobile: "0401111101": write it as +<country code><number> or set default_region`}},
	{name: "extension_pattern", yaml: base + "extension_pattern: \"^[0-9\"\n",
		want: []string{"extension_pattern: \"^[0-9\" does not compile: error parsing regexp: missing closing ]: `[0-9`"}},
	{name: "default_region", yaml: base + "default_region: XX\n",
		want: []string{`default_region: "XX" is not a supported ISO 3166-1 region (e.g. FI, SE, DE, US)`}},
	{name: "a trunk that is a user", yaml: base + "users:\n  - extension: \"101\"\ntrunks: [\"101\"]\n",
		want: []string{`trunks[0]: "101" is also users[0].extension`}},
	// Connectors.
	{name: "crm type", yaml: base + "crm:\n  - type: salesforce2\n",
		want: []string{`crm[0].type: "salesforce2" unknown (known: [creatio dynamics hubspot pipedrive salesforce webhook zoho])`}},
	{name: "webhook without url", yaml: base + "crm:\n  - type: webhook\n    webhook:\n      secret: s3cret\n",
		want: []string{"crm[0].webhook.url: required"}},
	{name: "webhook url port", yaml: base + "crm:\n  - type: webhook\n    webhook:\n      url: https://crm.example:99999/hook\n      secret: s3cret\n",
		want: []string{`crm[0].webhook.url: port "99999" is not a port (1–65535)`}},
	{name: "two webhooks of one name", yaml: base + hook + "      secret: s3cret\n  - name: hook\n    type: webhook\n    webhook:\n      url: https://crm.example/hook2\n      secret: s3cret\n",
		want: []string{`crm[1].name: "hook" is also crm[0]'s name: give each connector its own`}},
	{name: "missing webhook secret_file", yaml: base + hook + "      secret_file: {dir}/hook-secret\n",
		want: []string{`crm[0].webhook.secret_file: reading "{dir}/hook-secret": no such file or directory`}},
	{name: "webhook secret_credential outside systemd", yaml: base + hook + "      secret_credential: webhook-secret\n",
		want: []string{"crm[0].webhook.secret_credential: $CREDENTIALS_DIRECTORY is not set: credentials come from systemd (LoadCredential=); elsewhere use secret_file"}},
	{name: "webhook secret_credential not loaded", yaml: base + hook + "      secret_credential: webhook-secret\n",
		files: map[string]string{"creds/": ""}, env: map[string]string{"CREDENTIALS_DIRECTORY": "{dir}/creds"},
		want: []string{`crm[0].webhook.secret_credential: "webhook-secret" is not among the service's credentials ({dir}/creds): the unit needs LoadCredential=webhook-secret:FILE`}},
	{name: "webhook header value with CR/LF", yaml: base + hook + "      secret: s3cret\n      headers:\n        X-Api-Key: \"k3y\\r\\nX-Evil: 1\"\n",
		want: []string{"crm[0].webhook.headers.X-Api-Key: the value holds a line break or another control character"}},
	{name: "webhook reserved header", yaml: base + hook + "      secret: s3cret\n      headers:\n        Idempotency-Key: x\n",
		want: []string{"crm[0].webhook.headers.Idempotency-Key: set by callbridge itself"}},
	{name: "webhook ca_file missing", yaml: base + hook + "      secret: s3cret\n      tls:\n        ca_file: {dir}/ca.pem\n",
		want: []string{`crm[0].webhook.tls.ca_file: "{dir}/ca.pem": no such file or directory`}},
	{name: "webhook ca_file not PEM", yaml: base + hook + "      secret: s3cret\n      tls:\n        ca_file: {dir}/ca.pem\n",
		files: map[string]string{"ca.pem": "not a certificate\n"},
		want:  []string{`crm[0].webhook.tls.ca_file: "{dir}/ca.pem" holds no PEM certificate`}},
	{name: "webhook cert without key", yaml: base + hook + "      secret: s3cret\n      tls:\n        cert_file: {dir}/client.pem\n",
		want: []string{"crm[0].webhook.tls.cert_file: cert_file and key_file go together"}},
	{name: "webhook client cert not PEM", yaml: base + hook + "      secret: s3cret\n      tls:\n        cert_file: {dir}/client.pem\n        key_file: {dir}/client.key\n",
		files: map[string]string{"client.pem": "not a certificate\n", "client.key": "not a key\n"},
		want:  []string{"crm[0].webhook.tls.cert_file: with tls.key_file: tls: failed to find any PEM data in certificate input"}},
	{name: "webhook client key missing", yaml: base + hook + "      secret: s3cret\n      tls:\n        cert_file: {dir}/client.pem\n        key_file: {dir}/client.key\n",
		files: map[string]string{"client.pem": "not a certificate\n"},
		want:  []string{`crm[0].webhook.tls.key_file: "{dir}/client.key": no such file or directory`}},
	// The agents' desktop: screen pops, scripts, line names, click-to-dial.
	{name: "screen_pop closes a card it never opened", yaml: base + "policy:\n  defaults:\n    screen_pop:\n      open: connected\n      close: connected\n",
		want: []string{`policy.defaults.screen_pop.close: "connected" with open "connected" would close the card the moment it opens: use close "none"`}},
	{name: "screen_pop rule on a connector without recognition", yaml: base + hook + "      secret: s3cret\npolicy:\n  defaults:\n    screen_pop:\n      rules:\n        inbound: {connector: hook}\n",
		want: []string{`policy.defaults.screen_pop.rules.inbound.connector: "hook" is not a crm[] entry with recognition`}},
	{name: "screen_pop rule searching nothing but adding records", yaml: base + "policy:\n  users:\n    \"101\":\n      screen_pop:\n        rules:\n          manual: {connector: none, add_new_record: true}\n",
		want: []string{`policy.users["101"].screen_pop.rules.manual.connector: "none" searches nothing: entities and add_new_record need a connector`}},
	{name: "script with an unknown placeholder", yaml: base + hook + "      secret: s3cret\n    scripts:\n      - {name: Search, url: \"https://www.google.com/search?q=#(Caller nmbr)\"}\n",
		want: []string{`crm[0].scripts[0].url: script "Search": #(Caller nmbr) is not a placeholder; known: #(Caller number), #(Caller name), #(Device name), #(Device number), #(Ddi name), #(Ddi number), #(Start time)`}},
	{name: "script with a record field and no recognition", yaml: base + hook + "      secret: s3cret\n    scripts:\n      - {name: Mail, url: \"mailto:$(emailaddress1)\"}\n      - {name: Mail, url: \"\"}\n",
		want: []string{`crm[0].scripts[1].name: "Mail" is also scripts[0]'s`, `crm[0].scripts[1].url: required`, `crm[0].scripts[0].url: script "Mail" uses a record's $(…) field, but this connector has no recognition: it never matches a record`}},
	{name: "ddi_names key not a number", yaml: base + "ddi_names:\n  support: Support line\n",
		want: []string{`ddi_names["support"]: not a phone number`}},
	{name: "click_to_dial via ami without ami", yaml: base + "click_to_dial:\n  via: ami\n  ring_timeout: 1s\n",
		want: []string{`click_to_dial.via: "ami", but ami is not configured`, `click_to_dial.ring_timeout: 1s: want 5s to 5m`}},
	{name: "dynamics default_owner", yaml: base + "crm:\n" + dyn + "      default_owner: bob\n",
		want: []string{"crm[0].dynamics.default_owner: want a systemuserid (GUID)"}},
	{name: "dynamics url port", yaml: base + "crm:\n" + strings.Replace(dyn, "dynamics.com", "dynamics.com:0", 1),
		want: []string{`crm[0].dynamics.url: port "0" is not a port (1–65535)`}},
	{name: "missing dynamics client_secret_file", yaml: base + "crm:\n" + strings.Replace(dyn, "client_secret: s3cret", "client_secret_file: {dir}/dyn-secret", 1),
		want: []string{`crm[0].dynamics.client_secret_file: reading "{dir}/dyn-secret": no such file or directory`}},
	{name: "dynamics user crm_user", yaml: base + "crm:\n" + dyn + "      users:\n        \"102\": {crm_user: bob}\n",
		want: []string{`crm[0].dynamics.users["102"].crm_user: want a systemuserid (GUID)`}},
	{name: "crm_user_id for dynamics", yaml: base + "users:\n  - extension: \"102\"\n    crm_user_id: bob\ncrm:\n" + dyn,
		want: []string{`users[0].crm_user_id: "bob": not a Dynamics systemuserid (GUID), as crm[0] (dyn) needs`}},
	{name: "default_assignee for dynamics", yaml: base + "policy:\n  default_assignee: the-queue\ncrm:\n" + dyn,
		want: []string{`policy.default_assignee: "the-queue": not a Dynamics systemuserid (GUID), as crm[0] (dyn) needs`}},
	{name: "recognition on a webhook", yaml: base + hook + "      secret: s3cret\n    recognition:\n      enabled: true\n",
		want: []string{`crm[0].recognition: type "webhook" cannot list CRM records`}},
	{name: "recognition name", yaml: base + "crm:\n" + strings.Replace(dyn, "name: dyn", "name: dyn-1", 1) + "    recognition:\n      enabled: true\n",
		want: []string{`crm[0].name: "dyn-1": with recognition, use letters, digits and _ only (it names the phone index)`}},
	// The dialplan API: routing, wrap-ups, callback requests.
	{name: "routing rule match", yaml: base + "routing:\n  rules:\n    - {match: owners}\n",
		want: []string{`routing.rules[0].match: "owners": want owner, field, prefix or number`}},
	{name: "routing rule without target", yaml: base + "routing:\n  rules:\n    - {match: prefix, prefixes: [\"+46\"]}\n",
		want: []string{"routing.rules[0].target: required: the extension or number to route to"}},
	{name: "routing owner target", yaml: base + "routing:\n  rules:\n    - {match: owner, target: mobile}\n",
		want: []string{`routing.rules[0].target: "mobile": for an owner rule, extension or direct_number`}},
	{name: "routing when_free off the directory", yaml: base + "routing:\n  rules:\n    - {match: prefix, prefixes: [\"+46\"], target: \"999\", when_free: true}\n",
		want: []string{`routing.rules[0].when_free: target "999" is not a user's extension (users[]): callbridge cannot tell whether it is on a call`}},
	{name: "routing national number without region", yaml: base + "routing:\n  rules:\n    - {match: number, numbers: [\"040 123 4567\"], target: \"101\"}\n",
		want: []string{`routing.rules[0].numbers[0]: "040 123 4567" is not a phone number (national form needs default_region)`}},
	{name: "direct_number", yaml: base + "users:\n  - {extension: \"101\", direct_number: \"12\"}\n",
		want: []string{`users[0].direct_number: "12": write it as +<country code><number> or set default_region`}},
	{name: "wrapup codes and timeout", yaml: base + "wrapup:\n  codes: [SALE, SALE, \"NO SALE\"]\n  timeout: 25h\n",
		want: []string{`wrapup.codes[1]: "SALE" is also codes[0]`, `wrapup.codes[2]: "NO SALE": no spaces or control characters`,
			"wrapup.timeout: 25h0m0s: want more than 0 and at most 24h"}},
	{name: "callbacks profile", yaml: base + "callbacks:\n  profiles:\n    - {queue: support, ownership: me, duplicates: merge}\n",
		want: []string{"callbacks.profiles[0].crm_queue: required: the CRM queue the requests go to",
			`callbacks.profiles[0].ownership: "me": want api_user or queue_owner`, `callbacks.profiles[0].duplicates: "merge": want bundle or ignore`}},
	{name: "dynamics wrapup columns", yaml: base + "crm:\n" + dyn + "      wrapup: {field: new_wrapcode, notes_field: new_wrapcode}\n",
		want: []string{`crm[0].dynamics.wrapup.notes_field: "new_wrapcode" is also wrapup.field`}},
	{name: "recognition owner_field", yaml: base + "crm:\n" + dyn + "    recognition:\n      entities:\n        - {name: contact, entity_set: contacts, key: contactid, name_field: fullname, phone_fields: [telephone1], owner_field: owner id, type: person}\n",
		want: []string{`crm[0].recognition.entities[0]: owner_field: "owner id" is not an attribute name`}},
	// The API listener.
	{name: "http.tls files missing", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: {dir}/api.pem\n    key_file: {dir}/api.key\n",
		want: []string{`http.tls.cert_file: "{dir}/api.pem": no such file or directory`, `http.tls.key_file: "{dir}/api.key": no such file or directory`}},
	{name: "http.tls not PEM", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: {dir}/api.pem\n    key_file: {dir}/api.key\n",
		files: map[string]string{"api.pem": "not a certificate\n", "api.key": "not a key\n"},
		want:  []string{"http.tls.cert_file: with http.tls.key_file: tls: failed to find any PEM data in certificate input"}},
	{name: "http.tls without a key", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: {dir}/api.pem\n",
		want: []string{"http.tls: set both cert_file and key_file"}},
	{name: "missing admin token file", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  admin_token_file: admin.token\n",
		want: []string{`http.admin_token_file: reading "{dir}/admin.token": no such file or directory`}},
	{name: "admin token credential outside systemd", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  admin_token_credential: admin-token\n",
		want: []string{"http.admin_token_credential: $CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=); outside systemd use http.admin_token_file"}},
	{name: "a short admin token", yaml: state + ariOK + "http:\n  listen: 127.0.0.1:0\n  admin_token_file: admin.token\n",
		files: map[string]string{"admin.token": "short\n"},
		want:  []string{"http.admin_token_file: shorter than 16 characters: make one with `openssl rand -hex 32`"}},
	{name: "a wildcard listener without tokens", yaml: state + ariOK + "http:\n  listen: 0.0.0.0:9089\n",
		want: []string{
			`http.admin_token_file: required: http.listen "0.0.0.0:9089" is not on loopback, and off loopback every non-public route needs a token (or set http.admin_token_credential)`,
			`http.dialplan_tokens: required: http.listen "0.0.0.0:9089" is not on loopback, and the dialplan routes need a token there`,
		}},
	// Every stage at once.
	{name: "problems of every stage", yaml: "state_dir: {dir}/state\nlogg_level: info\nari:\n  url: http://127.0.0.1:8088/ari\n  username: cb\n  password_file: nope\nhttp:\n  listen: callbridge.invalid:9089\n",
		files: map[string]string{"state": "x"},
		want: []string{
			"line 2: logg_level: unknown key (did you mean log_level?)",
			`ari.password_file: reading "{dir}/nope": no such file or directory`,
			`http.admin_token_file: required: http.listen "callbridge.invalid:9089" is not on loopback, and off loopback every non-public route needs a token (or set http.admin_token_credential)`,
			`http.dialplan_tokens: required: http.listen "callbridge.invalid:9089" is not on loopback, and the dialplan routes need a token there`,
			`state_dir: "{dir}/state": not a directory`,
			`http.listen: "callbridge.invalid:9089": cannot resolve callbridge.invalid: no such host`,
		}},
}

// write puts the case's files and config in dir and gives the config's
// path.
func (bc badConfig) write(t *testing.T, dir string) string {
	t.Helper()
	for name, content := range bc.files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range bc.env {
		t.Setenv(k, strings.ReplaceAll(v, "{dir}", dir))
	}
	path := filepath.Join(dir, "callbridge.yaml")
	if bc.yaml != "" {
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(bc.yaml, "{dir}", dir)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// callTimed is call, bounded: a run that wrongly starts stops again.
func callTimed(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// Every bad config gives exactly its problems, each naming its key, and
// exit status 1; a config with several gives them all at once.
func TestConfigCheckTable(t *testing.T) {
	if len(badConfigs) < 60 {
		t.Fatalf("%d bad configs; the table keeps at least 60", len(badConfigs))
	}
	useTestEnv(t)
	for _, bc := range badConfigs {
		t.Run(bc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := bc.write(t, dir)
			code, out, errOut := callTimed(t, "config", "check", "--config", path)
			want := "callbridge: " + path + ":\n"
			for _, w := range bc.want {
				want += strings.ReplaceAll(w, "{dir}", dir) + "\n"
			}
			if code != 1 || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q\n got %s\nwant %s", code, out, errOut, want)
			}
		})
	}
}

// run refuses whatever config check refuses, with the same message and
// exit status, before it opens anything: the two share config.Check.
func TestRunRefusesWhatCheckRefuses(t *testing.T) {
	useTestEnv(t)
	for _, bc := range badConfigs {
		t.Run(bc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := bc.write(t, dir)
			cCode, cOut, cErr := callTimed(t, "config", "check", "--config", path)
			rCode, rOut, rErr := callTimed(t, "run", "--config", path)
			if rCode != cCode || rOut != cOut || rErr != cErr {
				t.Errorf("config check: %d %q\n%s\nrun: %d %q\n%s", cCode, cOut, cErr, rCode, rOut, rErr)
			}
			// Nothing was opened: no store, no sink.
			for _, f := range []string{"state/queue/queue.db", "state/activities.jsonl"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("run made %s for a config it refused", f)
				}
			}
		})
	}
}
