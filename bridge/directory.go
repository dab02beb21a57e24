package bridge

import "regexp"

// User is an internal party from the user directory.
type User struct {
	Extension string   // what identifies the user, e.g. "101"
	Name      string   // display name
	Email     string   // for mapping to CRM users
	Endpoints []string // device/endpoint names if not the extension itself
	// Mobiles are the user's own mobile numbers: when the PBX dials one
	// for somebody else's call (follow-me, a ring group with the mobile
	// in it), that leg is the user's.
	Mobiles []string
}

// DefaultExtensionPattern makes any endpoint named with 2–6 digits a user
// when no directory is configured.
var DefaultExtensionPattern = regexp.MustCompile(`^[0-9]{2,6}$`)

func (e *Engine) userFor(endpoint string) *User {
	if endpoint == "" {
		return nil
	}
	if len(e.cfg.Users) > 0 {
		return e.users[endpoint]
	}
	if u := e.patUsers[endpoint]; u != nil {
		return u
	}
	if !e.pattern.MatchString(endpoint) {
		return nil
	}
	u := &User{Extension: endpoint}
	e.patUsers[endpoint] = u
	return u
}

// mobileDigits is how many trailing digits identify a mobile number
// whatever prefix it is dialled with (+358 40…, 040…, 00358 40…).
const mobileDigits = 8

// mobileKey is the last mobileDigits digits of n, "" for shorter numbers.
func mobileKey(n string) string {
	var d []byte
	for i := 0; i < len(n); i++ {
		if n[i] >= '0' && n[i] <= '9' {
			d = append(d, n[i])
		}
	}
	if len(d) < mobileDigits {
		return ""
	}
	return string(d[len(d)-mobileDigits:])
}
