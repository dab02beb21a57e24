package fakeami

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Originate is a lab recording of one AMI Originate that Asterisk
// accepted (testdata/lab/ami_click_to_dial_*): the action as scenario.md
// gives it and the events the manager sessions saw from the originated
// channel's Newchannel on (ami.txt), its OriginateResponse among them.
// The fake plays it for every Originate it accepts, rewritten for that
// action: the channel takes the action's ChannelId and Channel, the
// number, caller id and ActionID are the action's, the times start now.
type Originate struct {
	Name   string
	Action map[string]string // lower-case keys, as readMessage gives them
	Events [][]byte          // header lines, CRLF-ended, as splitEvents gives them
}

var originateBlock = regexp.MustCompile("(?s)```\\s*\n(Action: Originate\n.*?)```")

// LoadOriginate reads a lab folder's scenario.md (the first Originate
// action in it) and ami.txt.
func LoadOriginate(dir string) (*Originate, error) {
	md, err := os.ReadFile(filepath.Join(dir, "scenario.md"))
	if err != nil {
		return nil, fmt.Errorf("fakeami: %w", err)
	}
	m := originateBlock.FindSubmatch(md)
	if m == nil {
		return nil, fmt.Errorf("fakeami: %s: no Originate action in scenario.md", dir)
	}
	act := map[string]string{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			act[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	rec, err := os.ReadFile(filepath.Join(dir, "ami.txt"))
	if err != nil {
		return nil, fmt.Errorf("fakeami: %w", err)
	}
	evs := splitEvents(rec)
	for i, ev := range evs {
		if headers(ev)["Event"] == "Newchannel" {
			return &Originate{Name: filepath.Base(dir), Action: act, Events: evs[i:]}, nil
		}
	}
	return nil, fmt.Errorf("fakeami: %s: ami.txt has no Newchannel", dir)
}

// Technologies a stock Asterisk 22 has channel drivers for.
var technologies = map[string]bool{"PJSIP": true, "Local": true, "IAX2": true, "DAHDI": true}

// originate answers Action: Originate as the lab's Asterisk did: Error
// "Invalid channel" for a channel without technology, "Extension does not
// exist." for a context it does not have (Config.Contexts), "Originate
// failed" for a synchronous one it cannot make; an asynchronous one is
// queued, and then either fails with an OriginateResponse Reason 0 (no
// such endpoint, or not registered: Config.Offline) or plays the
// recorded originate. Events go to every session logged in with events
// on, the originating one among them when it is.
func (s *Server) originate(c *conn, act map[string]string) {
	id := act["actionid"]
	if s.cfg.NoOriginate {
		_ = c.write(response("Error", id, "Permission denied"))
		return
	}
	tech, res, ok := strings.Cut(act["channel"], "/")
	contexts := s.cfg.Contexts
	if len(contexts) == 0 {
		contexts = []string{"from-internal"}
	}
	s.mu.Lock()
	known := slices.Contains(s.cfg.Endpoints, res) && tech == "PJSIP"
	offline := slices.Contains(s.cfg.Offline, act["channel"])
	tmpl := s.cfg.OriginateFor[act["channel"]]
	if tmpl == nil {
		tmpl = s.cfg.Originate
	}
	s.originates++
	n := s.originates
	s.mu.Unlock()
	async := strings.EqualFold(act["async"], "true") || act["async"] == "1" || strings.EqualFold(act["async"], "yes")
	canMake := ok && technologies[tech] && known && !offline
	switch {
	case !ok || res == "":
		_ = c.write(response("Error", id, "Invalid channel"))
		return
	case act["exten"] != "" && !slices.Contains(contexts, act["context"]):
		_ = c.write(response("Error", id, "Extension does not exist."))
		return
	case !async && !canMake:
		_ = c.write(response("Error", id, "Originate failed"))
		return
	case !async:
		_ = c.write(response("Error", id, "fakeami: synchronous originates are not emulated"))
		return
	case canMake && tmpl == nil:
		_ = c.write(response("Error", id, "fakeami: no Config.Originate to play"))
		return
	}
	_ = c.write(response("Success", id, "Originate successfully queued"))
	now := s.clock()
	if !canMake {
		name, num := splitCallerID(act["callerid"])
		s.broadcast([][]byte{[]byte(fmt.Sprintf("Event: OriginateResponse\r\nPrivilege: call,all\r\nTimestamp: %s\r\nActionID: %s\r\nResponse: Failure\r\nChannel: %s\r\nContext: %s\r\nExten: %s\r\nReason: 0\r\nUniqueid: <unknown>\r\nCallerIDNum: %s\r\nCallerIDName: %s\r\n",
			epoch(now), id, act["channel"], act["context"], act["exten"], num, name))})
		return
	}
	evs := newRewriter(tmpl, act, s.cfg.CallerIDs[res], n, now).events()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.broadcast(evs)
	}()
}

func (s *Server) clock() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func epoch(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// broadcast sends events, in order, to every session logged in with
// events on, folding each into the channel state.
func (s *Server) broadcast(evs [][]byte) {
	for _, ev := range evs {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.apply(ev)
		for c := range s.sessions {
			if c.events {
				_ = c.write(append(ev[:len(ev):len(ev)], '\r', '\n'))
			}
		}
		s.mu.Unlock()
	}
}

// splitCallerID reads `"Name" <number>`.
func splitCallerID(s string) (name, number string) {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		name, number = s[:i], strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ">")
	} else {
		name = s
	}
	name = strings.TrimSpace(name)
	if uq, err := strconv.Unquote(name); err == nil {
		name = uq
	}
	return name, number
}

// rewriter turns a template's events into an action's.
type rewriter struct {
	t                        *Originate
	act                      map[string]string
	origID, newID, suffix    string
	tEp, rEp, tRes, rRes     string
	tName, tNum, rName, rNum string
	epName                   string
	shift                    time.Duration
	ids                      map[string]bool // the template's uniqueids
	strs                     *strings.Replacer
}

func newRewriter(t *Originate, act map[string]string, epCallerID string, n int, now time.Time) *rewriter {
	rw := &rewriter{t: t, act: act, ids: map[string]bool{}}
	h := headers(t.Events[0])
	rw.origID = h["Uniqueid"]
	rw.newID = act["channelid"]
	if rw.newID == "" {
		_, seq, _ := strings.Cut(rw.origID, ".")
		k, _ := strconv.Atoi(seq)
		rw.newID = fmt.Sprintf("%d.%d", now.Unix(), k+n-1)
	}
	if n > 1 {
		rw.suffix = "-" + strconv.Itoa(n)
	}
	rw.tEp, rw.rEp = t.Action["channel"], act["channel"]
	_, rw.tRes, _ = strings.Cut(rw.tEp, "/")
	_, rw.rRes, _ = strings.Cut(rw.rEp, "/")
	rw.tName, rw.tNum = splitCallerID(t.Action["callerid"])
	rw.rName, rw.rNum = splitCallerID(act["callerid"])
	rw.epName, _ = splitCallerID(epCallerID)
	if ts, err := strconv.ParseFloat(h["Timestamp"], 64); err == nil {
		first := time.Unix(0, int64(ts*1e6)*1e3)
		rw.shift = now.Sub(first)
	}
	for _, ev := range t.Events {
		for k, v := range headers(ev) {
			if strings.HasSuffix(strings.ToLower(k), "uniqueid") || strings.HasSuffix(strings.ToLower(k), "linkedid") {
				rw.ids[v] = true
			}
		}
	}
	rw.strs = strings.NewReplacer(rw.tEp, rw.rEp, t.Action["exten"], act["exten"])
	return rw
}

// events are the template's events for this action: the variable it
// sets gets the template's VarSet or loses it, its ActionID is the one
// on the OriginateResponse.
func (rw *rewriter) events() [][]byte {
	out := make([][]byte, 0, len(rw.t.Events))
	tVar, _, _ := strings.Cut(rw.t.Action["variable"], "=")
	rVar, _, _ := strings.Cut(rw.act["variable"], "=")
	for _, ev := range rw.t.Events {
		h := headers(ev)
		if h["Event"] == "VarSet" && h["Uniqueid"] == rw.origID && tVar != "" && h["Variable"] == tVar && rVar != tVar {
			continue
		}
		out = append(out, rw.event(ev))
	}
	return out
}

// partyHeaders are the caller-id headers of a channel block (with its
// prefix before them).
var partyHeaders = map[string]bool{"CallerIDNum": true, "CallerIDName": true, "ConnectedLineNum": true, "ConnectedLineName": true}

func (rw *rewriter) event(ev []byte) []byte {
	lines := bytes.Split(bytes.TrimRight(ev, "\r\n"), []byte("\r\n"))
	h := headers(ev)
	var b bytes.Buffer
	for _, line := range lines {
		k, v, ok := strings.Cut(string(line), ": ")
		if !ok {
			b.Write(line)
			b.WriteString("\r\n")
			continue
		}
		// Which channel block the header is of: "Dest" for DestCallerIDNum.
		prefix := ""
		for _, p := range []string{"Dest", "Transferer", "Transferee"} {
			if strings.HasPrefix(k, p) && partyHeaders[strings.TrimPrefix(k, p)] {
				prefix = p
			}
		}
		orig := h[prefix+"Uniqueid"] == rw.origID || (h["Event"] == "OriginateResponse")
		b.WriteString(k + ": " + rw.value(k, strings.TrimPrefix(k, prefix), v, orig, h["Event"]) + "\r\n")
	}
	return b.Bytes()
}

func (rw *rewriter) value(key, base, v string, orig bool, event string) string {
	switch {
	case key == "Timestamp":
		if ts, err := strconv.ParseFloat(v, 64); err == nil && rw.shift != 0 {
			return epoch(time.Unix(0, int64(ts*1e6)*1e3).Add(rw.shift))
		}
		return v
	case key == "EventTV":
		if t, err := time.Parse("2006-01-02T15:04:05.000-0700", v); err == nil && rw.shift != 0 {
			return t.Add(rw.shift).Format("2006-01-02T15:04:05.000-0700")
		}
		return v
	case key == "ActionID" && event == "OriginateResponse":
		return rw.act["actionid"]
	case v == rw.origID:
		return rw.newID
	case rw.ids[v] && v != "<unknown>":
		return v + rw.suffix
	case partyHeaders[base] && orig:
		switch {
		case v == rw.tName && rw.tName != "" && strings.HasSuffix(base, "Name"):
			return rw.rName
		case v == rw.tNum && rw.tNum != "" && strings.HasSuffix(base, "Num"):
			return rw.rNum
		case v == rw.tRes:
			return rw.rRes
		case strings.HasSuffix(base, "Name") && rw.rRes != rw.tRes && v != "" && v != "<unknown>":
			return rw.epName // the endpoint's own name
		}
		return v
	case v == rw.tRes:
		return rw.rRes
	case v == rw.tName && rw.tName != "":
		return rw.rName
	case key == "Context" && v == rw.t.Action["context"]:
		return rw.act["context"]
	case key == "Variable" && strings.HasPrefix(rw.t.Action["variable"], v+"="):
		name, _, _ := strings.Cut(rw.act["variable"], "=")
		return name
	}
	return rw.strs.Replace(v)
}
