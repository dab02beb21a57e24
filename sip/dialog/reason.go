package dialog

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// failure maps a final non-2xx INVITE response to the Q.850 cause
// Asterisk's chan_pjsip gives it (ast_sip_hangup_sip2cause) and the Dial
// status the engine reads the reason from. 603 Decline has no Dial status
// of its own (app_dial reports NOANSWER for it), so none is given: the
// cause, call rejected, is the reason.
func failure(code int) (status string, cause int) {
	switch code {
	case 486, 600:
		return "BUSY", 17
	case 603:
		return "", 21
	case 408:
		return "NOANSWER", 18
	case 480, 483:
		return "NOANSWER", 19
	case 487:
		return "CANCEL", 16
	case 404, 485, 604:
		return "CHANUNAVAIL", 1
	case 484:
		return "CHANUNAVAIL", 28
	case 420:
		return "CHANUNAVAIL", 3
	case 410:
		return "CHANUNAVAIL", 22
	case 401, 403, 407:
		return "CHANUNAVAIL", 21
	case 488, 606:
		return "CHANUNAVAIL", 58
	case 500:
		return "CONGESTION", 38
	case 501:
		return "CONGESTION", 29
	case 502:
		return "CONGESTION", 27
	case 503:
		return "CONGESTION", 34
	case 504:
		return "CONGESTION", 102
	}
	switch {
	case code >= 300 && code < 400:
		return "CHANUNAVAIL", 23 // a redirect nobody follows
	case code >= 500 && code < 600:
		return "CONGESTION", 34
	}
	return "CHANUNAVAIL", 127
}

// retried reports final responses after which the sender retries the same
// dialog with a new CSeq rather than giving up.
func retried(code int) bool {
	return code == 401 || code == 407 || code == 422 || code == 491
}

// reasonCause reads the Q.850 cause of Reason headers; SIP cause 200
// ("Call completed elsewhere") is Q.850 26, answered elsewhere.
func reasonCause(reasons []string) int {
	cause := 0
	for _, v := range reasons {
		for _, part := range strings.Split(v, ",") {
			proto, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			c := 0
			for _, kv := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				if strings.EqualFold(k, "cause") {
					c, _ = strconv.Atoi(strings.Trim(v, "\""))
				}
			}
			switch {
			case strings.EqualFold(proto, "Q.850") && c > 0 && c < 128:
				return c
			case strings.EqualFold(proto, "SIP") && c == 200:
				cause = 26
			case strings.Contains(strings.ToLower(part), "completed elsewhere"):
				cause = 26
			}
		}
	}
	return cause
}

// identity is the party a request presents: P-Asserted-Identity when
// present (what the PBX asserts), else From.
func identity(p *parsed) (number, name string) {
	return identityOf(p, p.fromUser, p.fromName)
}

// identityOf reads P-Asserted-Identity (its first URI), falling back to
// the given number and name.
func identityOf(p *parsed, number, name string) (string, string) {
	if p.hasPAI {
		v := p.pai
		if i := strings.IndexByte(v, ','); i >= 0 && !strings.Contains(v[:i], "\"") {
			v = v[:i]
		}
		if u, dn := addressUser(v); u != "" {
			return u, dn
		}
	}
	return number, name
}

// addressUser is the user part and display name of a name-addr.
func addressUser(v string) (user, display string) {
	var u sip.Uri
	var hp sip.HeaderParams
	dn, err := sip.ParseAddressValue(v, &u, &hp)
	if err != nil {
		return "", ""
	}
	return u.User, dn
}

// cutReplaces splits a Replaces value "call-id;to-tag=…;from-tag=…".
func cutReplaces(v string) (callID, rest string, ok bool) {
	callID, rest, ok = strings.Cut(v, ";")
	return strings.TrimSpace(callID), rest, ok
}

func unescape(s string) string {
	r := strings.NewReplacer("%3B", ";", "%3b", ";", "%3D", "=", "%3d", "=", "%40", "@", "%25", "%")
	return r.Replace(s)
}

func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
