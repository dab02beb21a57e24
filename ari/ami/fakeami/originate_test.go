package fakeami

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const lab = "../../../testdata/lab"

// session is a raw manager session, as the lab's CRM script had.
type session struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func login(t *testing.T, s *Server, events string) *session {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort(s.Host(), strconv.Itoa(s.Port())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ss := &session{t: t, c: c, br: bufio.NewReader(c)}
	ss.br.ReadString('\n') // banner
	ss.send(map[string]string{"Action": "Login", "ActionID": "crm-login", "Username": "u", "Secret": "s", "Events": events})
	if m := ss.next(); !strings.Contains(m, "Authentication accepted") {
		t.Fatalf("login: %q", m)
	}
	return ss
}

func (ss *session) send(h map[string]string) {
	var b strings.Builder
	b.WriteString("Action: " + h["Action"] + "\r\n")
	for k, v := range h {
		if k != "Action" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := ss.c.Write([]byte(b.String())); err != nil {
		ss.t.Fatal(err)
	}
}

// next is the next message, CRLF kept, without its closing blank line.
func (ss *session) next() string {
	ss.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	for {
		line, err := ss.br.ReadString('\n')
		if err != nil {
			ss.t.Fatalf("read: %v (after %q)", err, b.String())
		}
		if line == "\r\n" {
			if b.Len() == 0 {
				continue
			}
			return b.String()
		}
		b.WriteString(line)
	}
}

// recorded are a lab session's messages after its login, the security
// and boot events left out (the fake sends no security events).
func recorded(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, m := range strings.Split(string(b), "\r\n\r\n") {
		if i == 0 || strings.TrimSpace(m) == "" || strings.HasPrefix(m, "Event: FullyBooted") || strings.HasPrefix(m, "Event: SuccessfulAuth") ||
			strings.HasPrefix(m, "Response: Goodbye") {
			continue
		}
		out = append(out, strings.TrimLeft(m, "\r\n")+"\r\n")
	}
	return out
}

func loadOriginate(t *testing.T, name string) *Originate {
	t.Helper()
	o, err := LoadOriginate(filepath.Join(lab, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func labAction(o *Originate) map[string]string {
	out := map[string]string{"Action": "Originate"}
	for k, v := range o.Action {
		if k != "action" {
			out[map[string]string{"actionid": "ActionID", "channel": "Channel", "context": "Context", "exten": "Exten", "priority": "Priority",
				"callerid": "CallerID", "timeout": "Timeout", "async": "Async", "channelid": "ChannelId", "variable": "Variable"}[k]] = v
		}
	}
	return out
}

func firstTime(o *Originate) time.Time {
	ts, _ := strconv.ParseFloat(headers(o.Events[0])["Timestamp"], 64)
	return time.Unix(0, int64(ts*1e6)*1e3)
}

// The lab's own Originate, at the lab's time, on a session with events
// on: message for message what that session got from Asterisk, the
// queued response, the call's events and its OriginateResponse.
func TestOriginateAsRecorded(t *testing.T) {
	for _, name := range []string{"ami_click_to_dial_answered", "ami_click_to_dial_channel_id_noanswer"} {
		t.Run(name, func(t *testing.T) {
			o := loadOriginate(t, name)
			s, err := Start(Config{Username: "u", Secret: "s", Endpoints: []string{"101", "pstn"}, Originate: o, Now: func() time.Time { return firstTime(o) }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ss := login(t, s, "on")
			ss.next() // FullyBooted
			want := recorded(t, filepath.Join(lab, name, "ami-originate.txt"))
			ss.send(labAction(o))
			for i, w := range want {
				if got := ss.next(); got != w {
					t.Fatalf("message %d:\n got %q\nlab  %q", i, got, w)
				}
			}
		})
	}
}

// A session with events off gets only the response; the events go to
// the sessions with events on, as ami.txt recorded them.
func TestOriginateEventsOff(t *testing.T) {
	o := loadOriginate(t, "ami_click_to_dial_noanswer")
	s, err := Start(Config{Username: "u", Secret: "s", Endpoints: []string{"101"}, Originate: o, Now: func() time.Time { return firstTime(o) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	watcher := login(t, s, "on")
	if m := watcher.next(); !strings.HasPrefix(m, "Event: FullyBooted") {
		t.Fatalf("events-on session: %q", m)
	}
	off := login(t, s, "off")
	off.send(labAction(o))
	if m := off.next(); !strings.Contains(m, "Originate successfully queued") {
		t.Fatalf("response %q", m)
	}
	for i, ev := range o.Events {
		if got := watcher.next(); got != string(ev) {
			t.Fatalf("event %d: %q, want %q", i, got, ev)
		}
	}
	off.send(map[string]string{"Action": "Ping", "ActionID": "p"})
	if m := off.next(); !strings.Contains(m, "Ping: Pong") {
		t.Errorf("the events-off session got %q", m)
	}
}

var timestamp = regexp.MustCompile(`Timestamp: [0-9.]+\r\n`)

// The lab's refusals, both sessions as recorded: errors for what Asterisk
// refuses at once, an OriginateResponse Reason 0 for an endpoint it
// cannot ring, sent to every session with events on.
func TestOriginateRefused(t *testing.T) {
	md, _ := os.ReadFile(filepath.Join(lab, "ami_click_to_dial_refused", "scenario.md"))
	s, err := Start(Config{Username: "u", Secret: "s", Endpoints: []string{"101"}, Offline: []string{"PJSIP/199"},
		Originate: loadOriginate(t, "ami_click_to_dial_answered")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	on, off := login(t, s, "on"), login(t, s, "off")
	on.next() // FullyBooted
	want := recorded(t, filepath.Join(lab, "ami_click_to_dial_refused", "ami-originate.txt"))
	wantOff := recorded(t, filepath.Join(lab, "ami_click_to_dial_refused", "ami-originate-events-off.txt"))
	var got, gotOff []string
	for _, m := range originateBlock.FindAllSubmatch(md, -1) {
		act := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			act[k] = v
		}
		if strings.HasSuffix(act["ActionID"], "-off") {
			off.send(act)
			gotOff = append(gotOff, off.next())
			got = append(got, on.next()) // its OriginateResponse reaches the events-on session
			continue
		}
		on.send(act)
		got = append(got, on.next())
		if strings.Contains(got[len(got)-1], "successfully queued") {
			got = append(got, on.next())
		}
	}
	norm := func(ms []string) string { return timestamp.ReplaceAllString(strings.Join(ms, "\n"), "") }
	if norm(got) != norm(want) {
		t.Errorf("events-on session:\n%s\nlab:\n%s", norm(got), norm(want))
	}
	if norm(gotOff) != norm(wantOff) {
		t.Errorf("events-off session:\n%s\nlab:\n%s", norm(gotOff), norm(wantOff))
	}
}
