package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/internal/netallow"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/routing"
)

// resolveSecrets reads the *_file secrets of the sources that are on; an
// unused source's credential file need not exist. Giving both forms of one
// secret is an error: which one wins would be a guess.
func (c *Config) resolveSecrets(dir string, getenv func(string) string) error {
	var errs []error
	resolve := func(on bool, key string, value *Secret, file string) {
		if !on || file == "" {
			return
		}
		if *value != "" {
			errs = append(errs, fmt.Errorf("%s_file: set both %s and %s_file; keep one", key, key, key))
			return
		}
		s, err := readSecretFile(key+"_file", file, dir, getenv)
		if err != nil {
			errs = append(errs, err)
			return
		}
		*value = s
	}
	resolve(c.ARI.On(), "ari.password", &c.ARI.Password, c.ARI.PasswordFile)
	resolve(c.AMI.On(), "ami.secret", &c.AMI.Secret, c.AMI.SecretFile)
	resolve(c.Store.Type == StoreRedis, "store.redis_url", &c.Store.RedisURL, c.Store.RedisURLFile)
	resolve(c.SIP.Subscribe.On(), "sip.subscribe.password", &c.SIP.Subscribe.Password, c.SIP.Subscribe.PasswordFile)
	resolve(c.SIP.On(), "sip.hep_auth_key", &c.SIP.HEPAuthKey, c.SIP.HEPAuthKeyFile)
	errs = append(errs, c.resolveTokens(dir, getenv)...)
	errs = append(errs, c.resolveCELPassword(dir, getenv)...)
	return errors.Join(errs...)
}

// resolveCELPassword reads cel.password_file or cel.password_credential
// as the other secrets are read, so that a missing one is a problem of
// the file (config check finds it) and the password is among Secrets;
// cel.Open then gets the value alone. Two forms at once, or either with a
// csv source, are left for the cel section's Validate to name.
func (c *Config) resolveCELPassword(dir string, getenv func(string) string) []error {
	cl := &c.CEL
	if cl.Type != cel.TypePostgres && cl.Type != cel.TypeMySQL || cl.Password != "" ||
		cl.PasswordFile != "" && cl.PasswordCredential != "" {
		return nil
	}
	pw, err := readSecret("cel.password", cl.PasswordFile, cl.PasswordCredential, dir, getenv)
	// The key that named it has done its work (or said why not): it is
	// not checked again.
	cl.PasswordFile, cl.PasswordCredential = "", ""
	if err != nil {
		return []error{err}
	}
	cl.Password = pw
	return nil
}

// Validate reports every problem with c, joined, each naming its key path
// ("ari.url: required"). It does not ask that a source be configured: see
// ValidateForRun.
func (c *Config) Validate() error {
	v := &validator{}
	c.validate(v)
	return errors.Join(v.errs...)
}

// ErrNoSource is reported by ValidateForRun when no source is configured.
var ErrNoSource = errors.New("no source configured: set ari.url, ami.host or sip.hep_listen_udp/hep_listen_tcp")

// ValidateForRun is Validate plus what `callbridge run` needs beyond a
// well-formed file: at least one source of call events.
func (c *Config) ValidateForRun() error {
	v := &validator{}
	c.validate(v)
	if !c.ARI.On() && !c.AMI.On() && !c.SIP.On() {
		v.errs = append(v.errs, ErrNoSource)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

var recognitionName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

var pbxIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *Config) validate(v *validator) {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.StateDir == "" {
		v.add("state_dir", "required")
	}
	if c.PBXID != "" && !pbxIDPattern.MatchString(c.PBXID) {
		v.add("pbx_id", "%q: use 1–64 letters, digits, '.', '_' or '-'", c.PBXID)
	}
	c.validateARI(v)
	c.validateAMI(v)
	c.validateSIP(v)
	c.validateDirectory(v)
	c.validatePrivacy(v)
	if c.Sink.File == "" {
		v.add("sink.file", "required (or set state_dir)")
	}
	c.validateHTTP(v)
	c.validateDelivery(v)
	c.validateAgents(v)
	c.validateSubscribe(v)
	c.validateCRMUserIDs(v)
	if c.CELOn() {
		v.nested("cel.", c.CEL.Validate())
	}
	c.validateDialplan(v)
}

// validateDialplan checks what the dialplan API answers from: routing
// rules, wrap-up codes and callback profiles.
func (c *Config) validateDialplan(v *validator) {
	v.nested("routing.", c.Routing.Validate(routing.Directory{Users: c.DirectNumbers(), Normalize: c.Normalizer().Normalize}))
	v.nested("wrapup.", c.Wrapup.Validate())
	v.nested("callbacks.", c.Callbacks.Validate())
}

func (c *Config) validateSubscribe(v *validator) {
	s := c.SIP.Subscribe
	if !s.On() {
		return
	}
	if err := hostPort(s.PBX); err != nil {
		v.add("sip.subscribe.pbx", "%q: %v", s.PBX, err)
	}
	if err := hostPort(s.Listen); err != nil {
		v.add("sip.subscribe.listen", "%q: %v", s.Listen, err)
	}
	if s.Contact != "" {
		if err := hostPort(s.Contact); err != nil {
			v.add("sip.subscribe.contact", "%q: %v", s.Contact, err)
		}
	}
	if l, ok := allowedSources(v, "sip.subscribe.allowed_sources", s.AllowedSources); ok && l.Empty() && !netallow.Loopback(s.Listen) {
		v.add("sip.subscribe.allowed_sources", "required: sip.subscribe.listen %q is off loopback; list the PBX's address (CIDR, e.g. %q) so that nobody else can send NOTIFYs", s.Listen, pbxNetwork(s.PBX))
	}
	if len(s.Extensions) == 0 && len(c.Users) == 0 {
		v.add("sip.subscribe.extensions", "required when the user directory (users) is empty")
	}
	if s.Expiry < time.Minute || s.Expiry > 24*time.Hour {
		v.add("sip.subscribe.expiry", "%s: want 1m to 24h", s.Expiry)
	}
	if s.Password != "" && s.Username == "" {
		v.add("sip.subscribe.username", "required with a password")
	}
	if s.Username != "" && s.Password == "" && s.PasswordFile == "" {
		v.add("sip.subscribe.password", "required with a username (or sip.subscribe.password_file)")
	}
	// Each watched extension is the user part of a SIP URI.
	seen := map[string]bool{}
	check := func(key, e string) {
		switch {
		case e == "" || strings.ContainsAny(e, "@:;<> \t\r\n\""):
			v.add(key, "%q is not a SIP user part (no spaces, '@', ':', ';', '<', '>' or quotes)", e)
		case seen[e]:
			v.add(key, "%q listed twice", e)
		}
		seen[e] = true
	}
	if len(s.Extensions) > 0 {
		for i, e := range s.Extensions {
			check(fmt.Sprintf("sip.subscribe.extensions[%d]", i), e)
		}
	} else {
		for i, u := range c.Users {
			if u.Extension != "" && !strings.ContainsAny(u.Extension, " \t\r\n@/") && !seen[u.Extension] {
				check(fmt.Sprintf("users[%d].extension", i), u.Extension) // watched: sip.subscribe.extensions is empty
			}
		}
	}
}

func (c *Config) validateDelivery(v *validator) {
	switch c.Store.Type {
	case StoreEmbedded:
		if c.Store.RedisURL != "" || c.Store.RedisURLFile != "" {
			// A Redis URL with the embedded store is a half-done switch.
			v.add("store.redis_url", "set, but store.type is %q: set store.type: redis", c.Store.Type)
		}
		if c.Store.WaitReplicas != 0 {
			v.add("store.wait_replicas", "only with store.type redis")
		}
	case StoreRedis:
		if c.Store.WaitReplicas < 0 || c.Store.WaitReplicas > 16 {
			v.add("store.wait_replicas", "%d: want 0 (do not wait) to 16", c.Store.WaitReplicas)
		}
		if c.Store.WaitTimeout < 10*time.Millisecond || c.Store.WaitTimeout > time.Minute {
			v.add("store.wait_timeout", "%s: want 10ms to 1m", c.Store.WaitTimeout)
		}
		if c.Store.RedisURL == "" && c.Store.RedisURLFile == "" {
			v.add("store.redis_url", "required for store.type redis (or store.redis_url_file)")
		} else if c.Store.RedisURL != "" { // else redis_url_file could not be read: reported by itself
			// The store's own parser, as run uses it; its errors never
			// quote the URL, which may carry the password.
			if err := redis.CheckURL(c.Store.RedisURL.Value()); err != nil {
				v.add("store.redis_url", "%s", strings.TrimPrefix(err.Error(), "redis url: "))
			}
		}
	default:
		v.add("store.type", "%q is not one of embedded, redis", c.Store.Type)
	}
	v.nested("policy.", c.Policy.Validate())
	v.nested("delivery.", c.Delivery.Validate())
	seen := map[string]int{}
	for i, cc := range c.CRM {
		key := fmt.Sprintf("crm[%d]", i)
		v.nested(key+".", cc.Validate())
		name := cc.InstanceName()
		if cc.Recognition != nil && !recognitionName.MatchString(name) {
			v.add(key+".name", "%q: with recognition, use letters, digits and _ only (it names the phone index)", name)
		}
		if j, dup := seen[name]; dup {
			v.add(key+".name", "%q is also crm[%d]'s name: give each connector its own", name, j)
		}
		seen[name] = i
	}
	v.nested("", connectors.CheckReferences(c.CRM))
}

// nested adds a section's own joined errors, each line prefixed with the
// section's key path.
func (v *validator) nested(prefix string, err error) {
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			v.errs = append(v.errs, errors.New(prefix+line))
		}
	}
}

func (c *Config) validateARI(v *validator) {
	a := c.ARI
	if !a.On() {
		return
	}
	if a.URL == "" {
		v.add("ari.url", "required")
	} else if u, err := url.Parse(a.URL); err != nil {
		// Not quoted, nor the parser's reason: an unparsable URL may
		// still carry a password, which the reason can quote.
		v.add("ari.url", "not a URL (look at its host and port)")
	} else {
		switch {
		case u.User != nil:
			v.add("ari.url", "credentials in the URL; use ari.username and ari.password")
		case u.Scheme != "http" && u.Scheme != "https":
			v.add("ari.url", "%q: scheme must be http or https", a.URL)
		case u.Host == "":
			v.add("ari.url", "%q: no host", a.URL)
		case u.Port() != "" && !portOK(u.Port()):
			v.add("ari.url", "%q: port %q is not a port (1–65535)", a.URL, u.Port())
		}
	}
	if a.Application == "" {
		v.add("ari.application", "required")
	} else if strings.ContainsAny(a.Application, " /?&#%") {
		v.add("ari.application", "%q: must not contain spaces or URL punctuation", a.Application)
	}
	if a.Username == "" {
		v.add("ari.username", "required")
	} else if strings.ContainsAny(a.Username, ":\r\n") {
		// HTTP basic authentication cannot carry a ':' in the user.
		v.add("ari.username", "%q: must not contain ':' or a line break", a.Username)
	}
	if a.Password == "" && a.PasswordFile == "" { // an unreadable file is reported by itself
		v.add("ari.password", "required (or ari.password_file)")
	}
}

func (c *Config) validateAMI(v *validator) {
	a := c.AMI
	if a.Port < 1 || a.Port > 65535 {
		v.add("ami.port", "%d is not a port (1–65535)", a.Port)
	}
	if !a.On() {
		return
	}
	if strings.ContainsAny(a.Host, " /:") && net.ParseIP(a.Host) == nil {
		v.add("ami.host", "%q: a host name or IP address, without port (see ami.port)", a.Host)
	}
	if a.Username == "" {
		v.add("ami.username", "required")
	} else if strings.ContainsAny(a.Username, "\r\n") {
		// A line break would end the login header and start another.
		v.add("ami.username", "%q: must not contain a line break", a.Username)
	}
	if a.Secret == "" && a.SecretFile == "" {
		v.add("ami.secret", "required (or ami.secret_file)")
	} else if strings.ContainsAny(a.Secret.Value(), "\r\n") {
		v.add("ami.secret", "must not contain a line break")
	}
}

func (c *Config) validateSIP(v *validator) {
	s := c.SIP
	for i, a := range s.HEPListenUDP {
		if err := hostPort(a); err != nil {
			v.add(fmt.Sprintf("sip.hep_listen_udp[%d]", i), "%q: %v", a, err)
		}
	}
	for i, a := range s.HEPListenTCP {
		if err := hostPort(a); err != nil {
			v.add(fmt.Sprintf("sip.hep_listen_tcp[%d]", i), "%q: %v", a, err)
		}
	}
	if l, ok := allowedSources(v, "sip.hep_allowed_sources", s.HEPAllowedSources); ok && l.Empty() {
		for _, ls := range []struct {
			key   string
			addrs []string
		}{{"sip.hep_listen_udp", s.HEPListenUDP}, {"sip.hep_listen_tcp", s.HEPListenTCP}} {
			if i := slices.IndexFunc(ls.addrs, func(a string) bool { return !netallow.Loopback(a) }); i >= 0 {
				v.add("sip.hep_allowed_sources", "required: %s[%d] %q is off loopback; list the capture agents' addresses (CIDRs) so that nobody else can send HEP", ls.key, i, ls.addrs[i])
				break
			}
		}
	}
	for i, a := range s.PBXAddresses {
		if !address(a) {
			v.add(fmt.Sprintf("sip.pbx_addresses[%d]", i), "%q: want an IP address, IP:port or prefix (10.0.0.0/24)", a)
		}
	}
	for i, a := range s.TrunkAddresses {
		if !address(a) {
			v.add(fmt.Sprintf("sip.trunk_addresses[%d]", i), "%q: want an IP address, IP:port or prefix (10.0.0.0/24)", a)
		}
	}
	rooms := make([]string, 0, len(s.Conferences))
	for room := range s.Conferences {
		rooms = append(rooms, room)
	}
	sort.Strings(rooms)
	inRoom := map[string]string{}
	for _, room := range rooms {
		if len(s.Conferences[room]) == 0 {
			v.add("sip.conferences."+room, "list the numbers that reach the room (at least the room's own)")
		}
		for i, n := range s.Conferences[room] {
			key := fmt.Sprintf("sip.conferences.%s[%d]", room, i)
			switch prev, dup := inRoom[n]; {
			case n == "":
				v.add(key, "empty number")
			case dup:
				v.add(key, "%q also reaches room %s", n, prev)
			default:
				inRoom[n] = room
			}
		}
	}
}

// validateDirectory checks users, trunks, the pattern and the region. An
// endpoint name may belong to one user only, and never to a trunk: the
// engine could not tell whose a call is.
func (c *Config) validateDirectory(v *validator) {
	if c.ExtensionPattern == "" {
		v.add("extension_pattern", "required (an empty pattern makes every endpoint a user)")
	} else if _, err := regexp.Compile(c.ExtensionPattern); err != nil {
		v.add("extension_pattern", "%q does not compile: %v", c.ExtensionPattern, err)
	}
	regionOK := true
	if c.DefaultRegion != "" && !phone.SupportedRegion(c.DefaultRegion) {
		regionOK = false
		v.add("default_region", "%q is not a supported ISO 3166-1 region (e.g. FI, SE, DE, US)", c.DefaultRegion)
	}
	owner := map[string]string{} // endpoint name -> key that claimed it
	claim := func(name, key string) {
		if prev, ok := owner[name]; ok {
			v.add(key, "%q is also %s", name, prev)
			return
		}
		owner[name] = key
	}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Extension == "":
			v.add(key+".extension", "required")
		case strings.ContainsAny(u.Extension, " \t\r\n@/"):
			v.add(key+".extension", "%q: must not contain spaces, '@' or '/'", u.Extension)
		default:
			claim(u.Extension, key+".extension")
		}
		if u.Email != "" {
			if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
				v.add(key+".email", "%q is not a plain e-mail address", u.Email)
			}
		}
		if regionOK {
			c.validateNumber(v, key+".mobile", u.Mobile)
			c.validateNumber(v, key+".direct_number", u.DirectNumber)
		}
		for j, e := range u.Endpoints {
			ekey := fmt.Sprintf("%s.endpoints[%d]", key, j)
			switch {
			case e == "":
				v.add(ekey, "empty")
			case e == u.Extension:
				// Listing the extension itself is harmless.
			default:
				claim(e, ekey)
			}
		}
	}
	for i, t := range c.Trunks {
		key := fmt.Sprintf("trunks[%d]", i)
		if t == "" {
			v.add(key, "empty")
			continue
		}
		claim(t, key)
	}
}

// validateNumber checks a user's own number (mobile, direct_number):
// empty, or a phone number in international or, with default_region,
// national form.
func (c *Config) validateNumber(v *validator, key, num string) {
	if num == "" {
		return
	}
	// Without a default region only +<country> numbers can be read; any
	// supported region then parses them the same.
	region := c.DefaultRegion
	if region == "" {
		region = "US"
	}
	switch _, ok := phone.NewNormalizer(region).Normalize(num); {
	case c.DefaultRegion == "" && !strings.HasPrefix(strings.TrimSpace(num), "+"):
		v.add(key, "%q: write it as +<country code><number> or set default_region", num)
	case !ok:
		v.add(key, "%q is not a phone number", num)
	}
}

// privacyCode is what a dialled privacy prefix may hold: what a phone
// dials.
var privacyCode = regexp.MustCompile(`^[0-9*#+]+$`)

func (c *Config) validatePrivacy(v *validator) {
	class := func(key, cl string) {
		if cl != bridge.PrivacyPrivate && cl != bridge.PrivacyUnclassified {
			v.add(key, "%q is not one of private, unclassified", cl)
		}
	}
	seen := map[string]string{}
	for i, r := range c.Privacy.Prefixes {
		key := fmt.Sprintf("privacy.prefixes[%d]", i)
		switch {
		case r.Prefix == "":
			v.add(key+".prefix", "required")
		case !privacyCode.MatchString(r.Prefix):
			v.add(key+".prefix", "%q: use what a phone dials (digits, *, #, +)", r.Prefix)
		case seen[r.Prefix] != "":
			v.add(key+".prefix", "%q is also %s", r.Prefix, seen[r.Prefix])
		default:
			seen[r.Prefix] = key + ".prefix"
		}
		class(key+".class", r.Class)
	}
	for i, r := range c.Privacy.Numbers {
		key := fmt.Sprintf("privacy.numbers[%d]", i)
		digits := 0
		for _, ch := range r.Number {
			switch {
			case ch >= '0' && ch <= '9':
				digits++
			case strings.ContainsRune("+ -()", ch):
			default:
				digits = -1000
			}
		}
		if digits < 3 {
			v.add(key+".number", "%q: want a phone number (at least 3 digits; +, spaces, '-' and parentheses allowed)", r.Number)
		}
		class(key+".class", r.Class)
	}
}

// hostPort checks a listen address: host:port with a numeric port. The
// host may be empty (all interfaces), an IP or a name.
func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q is not a number 0–65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("bad host %q", host)
	}
	return nil
}

func portOK(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// address accepts an IP, IP:port or a prefix.
func address(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// allowedSources checks a list of allowed source networks, naming each
// bad entry; ok is false when one was bad.
func allowedSources(v *validator, key string, cidrs []string) (netallow.List, bool) {
	ok := true
	for i, c := range cidrs {
		if _, err := netallow.Parse([]string{c}); err != nil {
			v.add(fmt.Sprintf("%s[%d]", key, i), "%q is not an address or a CIDR network (192.0.2.10, 192.0.2.0/24)", c)
			ok = false
		}
	}
	if !ok {
		return netallow.List{}, false
	}
	l, _ := netallow.Parse(cidrs)
	return l, true
}

// pbxNetwork is the example network an error suggests for the PBX at
// host:port: its address when that is one.
func pbxNetwork(pbx string) string {
	host, _, _ := net.SplitHostPort(pbx)
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return "192.0.2.5/32"
}
