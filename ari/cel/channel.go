package cel

import (
	"strings"
	"time"
)

// chanState is what the mapper knows of one channel. The first group is
// filled as rows are fed (the facts the held-back rows wait for), the
// second as rows are released and turned into events.
type chanState struct {
	id, name            string
	linked, startLinked string // linked id now and at its first row
	first               time.Time
	candidates          []*chanState // alive in the same call when it began
	ended               bool         // its CHAN_END was fed

	outgoing   string   // the app Asterisk put it in as a dialled channel: AppDial, AppDial2, AppQueue
	dialArgs   []string // arguments of the dialling apps it ran (Dial, Queue, …)
	dialStatus string   // the dial status its HANGUP carried
	answeredAt time.Time
	// forwards are its FORWARD rows: a phone it dialled sent the call
	// elsewhere (SIP 302) and its Dial follows; redirected, on that
	// phone, says it hung up so (cause 23, redirected to a new
	// destination).
	forwards   []forward
	redirected bool

	created     bool
	role        role
	dialer      *chanState
	dialString  string
	callees     []*chanState // channels it dialled, as released
	offerEnded  bool         // the final status of the offer to it went out
	answered    bool
	cause       int
	destroyed   bool
	destroyedAt time.Time
	bridge      string
	lastBridge  string
	transferred time.Time // last time it was the party transferred
	sentNum     string
	sentName    string
	sentExten   string
}

// role is how a channel came to be, decided when its first row goes out.
type role uint8

const (
	// roleIncoming: it called in to the PBX (a phone or trunk placing a
	// call, the dialplan side of a Local pair).
	roleIncoming role = iota
	// roleDialled: the PBX dialled it for another channel of the call.
	roleDialled
	// roleOriginated: the PBX dialled it on nobody's behalf (Originate,
	// a call file, an attended transfer's consultation channel).
	roleOriginated
)

// dialApps are the dialplan applications that dial other channels; their
// arguments name the devices dialled.
var dialApps = map[string]bool{
	"dial": true, "queue": true, "followme": true, "page": true, "retrydial": true,
}

// noteFacts records what a fed row tells about its channel.
func (c *chanState) noteFacts(r *Row, x *extra) {
	switch r.AppName {
	case "AppDial", "AppDial2", "AppQueue":
		if c.outgoing == "" {
			c.outgoing = r.AppName
		}
	default:
		if dialApps[strings.ToLower(r.AppName)] && r.AppData != "" {
			if len(c.dialArgs) == 0 || c.dialArgs[len(c.dialArgs)-1] != r.AppData {
				if len(c.dialArgs) < 16 {
					c.dialArgs = append(c.dialArgs, r.AppData)
				}
			}
		}
	}
	switch r.Event {
	case EventForward:
		if x.Forward != "" && len(c.forwards) < 16 {
			c.forwards = append(c.forwards, forward{to: x.Forward, at: r.Time})
		}
	case EventHangup:
		if x.DialStatus != "" {
			c.dialStatus = x.DialStatus
		}
		if n, _ := x.cause(); n == causeRedirected {
			c.redirected = true
		}
	case EventAnswer:
		if c.answeredAt.IsZero() {
			c.answeredAt = r.Time
		}
	}
}

// forward is one FORWARD row: where the call was sent, and when.
type forward struct {
	to   string
	at   time.Time
	used bool
}

// causeRedirected is Q.850 cause 23, "redirected to new destination":
// how app_dial hangs up a phone whose 302 it follows.
const causeRedirected = 23

// forwardWindow: app_dial requests the forward's target, writes FORWARD
// and hangs the forwarding phone up within moments of each other.
const forwardWindow = 2 * time.Second

// takeForward returns (and uses up) the forward of c's rows nearest to at
// within forwardWindow, if any.
func (c *chanState) takeForward(at time.Time) string {
	best := -1
	for i := range c.forwards {
		f := &c.forwards[i]
		if f.used || f.at.Sub(at).Abs() > forwardWindow {
			continue
		}
		if best < 0 || f.at.Sub(at).Abs() < c.forwards[best].at.Sub(at).Abs() {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	c.forwards[best].used = true
	return c.forwards[best].to
}

// settled says whether every fact its rows wait for is in: the channel has
// ended, and so has every channel that could have dialled it.
func (c *chanState) settled() bool {
	if !c.ended {
		return false
	}
	for _, o := range c.candidates {
		if !o.ended {
			return false
		}
	}
	return true
}

// localHalf is 1 or 2 for the halves of a Local channel pair
// ("Local/101@queue-agents-00000000;2"), 0 for other channels.
func localHalf(name string) int {
	if !strings.HasPrefix(strings.ToLower(name), "local/") {
		return 0
	}
	switch {
	case strings.HasSuffix(name, ";1"):
		return 1
	case strings.HasSuffix(name, ";2"):
		return 2
	}
	return 0
}

// device is a channel name without Asterisk's sequence suffix and Local
// half: "PJSIP/101-0000000a" -> "PJSIP/101",
// "Local/101@queue-agents-00000000;1" -> "Local/101@queue-agents".
func device(name string) string {
	if i := strings.LastIndexByte(name, ';'); i >= 0 && localHalf(name) != 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '-'); i > strings.IndexByte(name, '/') {
		name = name[:i]
	}
	return name
}

// target is one device in a dialling app's first argument, with the dial
// string ARI would report for it.
type target struct {
	device string // "PJSIP/pstn"
	dial   string // "0401234567@pstn"
}

// targets reads the devices a Dial-like application's arguments name:
// "PJSIP/101&PJSIP/102,20" -> PJSIP/101, PJSIP/102;
// "PJSIP/0401234567@pstn,30" -> PJSIP/pstn (PJSIP's number@endpoint);
// "SIP/trunk/0401234567" -> SIP/trunk; "Local/101@queue-agents/n" ->
// Local/101@queue-agents.
func targets(args string) []target {
	first, _, _ := strings.Cut(args, ",")
	var out []target
	for _, t := range strings.Split(first, "&") {
		t = strings.TrimSpace(t)
		tech, res, ok := strings.Cut(t, "/")
		if !ok || tech == "" || res == "" {
			continue
		}
		dial := res
		dev := res
		if strings.EqualFold(tech, "Local") {
			if i := strings.IndexByte(dev, '/'); i >= 0 {
				dev = dev[:i]
			}
		} else {
			if i := strings.IndexByte(dev, '/'); i >= 0 {
				dev = dev[:i]
			}
			if strings.EqualFold(tech, "PJSIP") {
				if _, ep, ok := strings.Cut(dev, "@"); ok {
					dev = ep
				}
			}
		}
		out = append(out, target{device: tech + "/" + dev, dial: dial})
	}
	return out
}

// dialledBy reports whether c's dialling apps named the device of channel
// name, and with which dial string.
func (c *chanState) dialledBy(name string) (string, bool) {
	dev := device(name)
	for _, a := range c.dialArgs {
		for _, t := range targets(a) {
			if strings.EqualFold(t.device, dev) {
				return t.dial, true
			}
		}
	}
	return "", false
}

// endpointOf is the device's resource: "PJSIP/101" -> "101".
func endpointOf(dev string) string {
	_, res, _ := strings.Cut(dev, "/")
	return res
}

// localExten is the extension a Local channel runs:
// "Local/101@queue-agents-00000000;2" -> "101".
func localExten(name string) string {
	res := endpointOf(device(name))
	ext, _, _ := strings.Cut(res, "@")
	return ext
}

// chooseDialer picks, among the channels alive in the call when c began,
// the one that dialled it: one whose dialling app named c's device; else
// the dialplan half of a Local pair running c's extension (a queue member
// such as Local/101@from-queue dialling PJSIP/101); else one that dialled
// at all (ran a dialling app, or hung up with a dial status); the most
// recently created among equals. A channel that was itself dialled and
// had not answered yet cannot dial.
func (c *chanState) chooseDialer() *chanState {
	var best *chanState
	bestScore := -1
	ep := endpointOf(device(c.name))
	for _, o := range c.candidates {
		if o == c || localHalf(o.name) == 1 {
			continue
		}
		if o.outgoing != "" && (o.answeredAt.IsZero() || o.answeredAt.After(c.first)) {
			continue
		}
		score := 0
		if _, ok := o.dialledBy(c.name); ok {
			score += 8
		}
		if localHalf(o.name) == 2 && ep != "" && localExten(o.name) == ep {
			score += 4
		}
		if len(o.dialArgs) > 0 || o.dialStatus != "" {
			score += 2
		}
		if score > bestScore || (score == bestScore && !o.first.Before(best.first)) {
			best, bestScore = o, score
		}
	}
	return best
}

// finalStatus is the dial status of an offer to c that was never answered,
// as ARI's Dial event would give it: busy when the device said so; else
// the status its dialler's Dial ended with (CEL keeps a channel's first
// failure, or ANSWER if a later dial was answered); else NOANSWER when the
// dialling application hung it up without a cause (its timeout), CANCEL
// otherwise (the caller gave up, another phone answered).
func (c *chanState) finalStatus() string {
	if c.cause == 17 {
		return "BUSY"
	}
	if d := c.dialer; d != nil {
		switch d.dialStatus {
		case "BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL", "CANCEL", "DONTCALL", "TORTURE", "INVALIDARGS":
			return d.dialStatus
		}
	}
	if c.cause == 0 {
		return "NOANSWER"
	}
	return "CANCEL"
}
