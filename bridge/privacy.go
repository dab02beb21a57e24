package bridge

import "strings"

// PrivacyRules classify calls by what every source sees, for dialplans that
// do not set CALLBRIDGE_PRIVACY and for sources that cannot see channel
// variables (SIP). A rule that matches any user's part of a call classifies
// the whole call; the strictest class wins, as with the variable.
type PrivacyRules struct {
	// Prefixes are codes a user dials before a number to mark the call
	// ("*99" in *990401234567): the call gets Class and the code is not
	// part of the remote number.
	Prefixes []PrivacyPrefix
	// Numbers are remote numbers whose calls get Class, matched on their
	// digits: the last 8 when both have that many (so +358 40 123 4567
	// and 040 1234567 match), all of them otherwise.
	Numbers []PrivacyNumber
}

// PrivacyPrefix marks calls dialled with Prefix as Class ("private" or
// "unclassified").
type PrivacyPrefix struct{ Prefix, Class string }

// PrivacyNumber marks calls with remote Number as Class.
type PrivacyNumber struct{ Number, Class string }

// dialledPrefix returns the prefix rule the user's leg was dialled with.
func (e *Engine) dialledPrefix(l *userLeg) (PrivacyPrefix, bool) {
	if !l.outbound || l.consult {
		return PrivacyPrefix{}, false
	}
	ex := l.chans[0].exten
	for _, r := range e.cfg.Privacy.Prefixes {
		if r.Prefix != "" && strings.HasPrefix(ex, r.Prefix) {
			return r, true
		}
	}
	return PrivacyPrefix{}, false
}

// ruleClass is the class the privacy rules give the activity a of leg l
// ("" if none matches).
func (e *Engine) ruleClass(l *userLeg, a *Activity) string {
	class := ""
	if r, ok := e.dialledPrefix(l); ok {
		class = stricter(class, privacyClass(r.Class))
	}
	if k := numberKey(a.RemoteNumber); k != "" {
		for _, r := range e.cfg.Privacy.Numbers {
			if numberKey(r.Number) == k {
				class = stricter(class, privacyClass(r.Class))
			}
		}
	}
	return class
}

// numberKey is what privacy number rules compare: the digits of n, the last
// mobileDigits of them when there are that many.
func numberKey(n string) string {
	var d []byte
	for i := 0; i < len(n); i++ {
		if n[i] >= '0' && n[i] <= '9' {
			d = append(d, n[i])
		}
	}
	if len(d) > mobileDigits {
		d = d[len(d)-mobileDigits:]
	}
	return string(d)
}

// privacyClass reads a CALLBRIDGE_PRIVACY value (or a rule's class).
// Anything but "work" or "private" is unclassified: a typo must not turn a
// private call into a synced one.
func privacyClass(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "work", "":
		return PrivacyWork
	case "private":
		return PrivacyPrivate
	}
	return PrivacyUnclassified
}

func stricter(a, b string) string {
	rank := func(p string) int {
		switch p {
		case PrivacyPrivate:
			return 2
		case PrivacyUnclassified:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
