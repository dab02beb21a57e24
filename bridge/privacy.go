package bridge

import "strings"

func (e *Engine) varSet(ev Event) {
	c := e.chans[ev.Channel.ID]
	if c == nil {
		e.ignored++
		return
	}
	// Set(__CALLBRIDGE_PRIVACY=…) marks the variable for inheritance; the
	// underscores are not part of its name.
	switch strings.TrimLeft(ev.Var, "_") {
	case PrivacyVar:
		cl := c.callRoot()
		cl.privacy = stricter(cl.privacy, privacyClass(ev.Value))
	case "DIALSTATUS":
		if ev.Value != "" {
			c.varStatus = ev.Value
		}
	}
}

// privacyClass reads a CALLBRIDGE_PRIVACY value. Anything but "work" or
// "private" is unclassified: a typo must not turn a private call into a
// synced one.
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
