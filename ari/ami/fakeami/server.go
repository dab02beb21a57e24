package fakeami

import (
	"bufio"
	"bytes"
	"crypto/md5" //nolint:gosec // AMI's challenge login is defined with MD5
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Banner is what the server says on connect (Asterisk 22 speaks AMI 11).
const Banner = "Asterisk Call Manager/11.0.0"

// Config sets up a Server.
type Config struct {
	// Recording is a recorded AMI stream (ami.txt); its events are played,
	// the banner and responses in it are not.
	Recording []byte
	Username  string
	Secret    string
	// DropAfter closes the connection once this many events (counted over
	// the whole recording) have been sent; 0 never drops.
	DropAfter int
	// Gap is how many events happen while the client is away after the
	// drop: they change the state CoreShowChannels reports but are never
	// sent.
	Gap int
	// HoldUntilSync makes each connection wait for the client's
	// CoreShowChannels before playing, so the resync sees a known state.
	// Asterisk does not wait; tests that want determinism do.
	HoldUntilSync bool
	// RefuseAfterDrop refuses this many reconnects after the drop.
	RefuseAfterDrop int
	// IgnorePing leaves pings unanswered, like a hung Asterisk.
	IgnorePing bool
	// Interval paces events; 0 sends them as fast as the client reads.
	Interval time.Duration
	// Endpoints are the PJSIP endpoints PJSIPShowEndpoints lists, and
	// those an Originate can ring.
	Endpoints []string
	// Originate is played for every Originate the fake accepts
	// (originate.go); OriginateFor by channel ("PJSIP/101") before it.
	Originate    *Originate
	OriginateFor map[string]*Originate
	// Offline endpoints ("PJSIP/199") are configured but not registered:
	// an Originate to one fails as Asterisk's does.
	Offline []string
	// Contexts are the dialplan contexts an Originate may name; default
	// from-internal.
	Contexts []string
	// CallerIDs are endpoints' configured caller ids by resource ("102":
	// `"Bob Berg" <102>`), for the originated channel's own name.
	CallerIDs map[string]string
	// NoOriginate refuses Originate as for a user without write =
	// originate.
	NoOriginate bool
	// Now is when an originate's events start; nil: time.Now.
	Now func() time.Time
}

// Server is a fake AMI server. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	ln  net.Listener
	wg  sync.WaitGroup

	mu       sync.Mutex
	secret   string
	events   [][]byte // header lines of each event, CRLF-ended, no closing blank line
	cursor   int      // next event to play
	dropped  bool     // DropAfter has fired
	refuse   int
	conns    map[net.Conn]bool
	chans    map[string]*channel
	order    []string // channel ids in creation order
	nowTS    string   // Timestamp of the last event played
	logins   int
	pongs    int // pings answered
	failures int
	accepted int
	done     chan struct{} // closed once every event has been played
	closed   bool
	// sessions are the logged-in connections; originates counts
	// Originate actions.
	sessions   map[*conn]bool
	originates int
}

type channel struct {
	fields  map[string]string
	created float64
}

// Start listens on 127.0.0.1:0 and serves until Close.
func Start(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		ln:     ln,
		secret: cfg.Secret,
		events: splitEvents(cfg.Recording),
		conns:  map[net.Conn]bool{},
		chans:  map[string]*channel{},
		done:   make(chan struct{}),

		sessions: map[*conn]bool{},
	}
	if len(s.events) == 0 {
		close(s.done)
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Host and Port say where to connect.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Events is the number of events in the recording.
func (s *Server) Events() int { return len(s.events) }

// Done is closed once every event has been played (sent or lost in a gap).
func (s *Server) Done() <-chan struct{} { return s.done }

// Refuse makes the next n connections close right after they are accepted.
func (s *Server) Refuse(n int) {
	s.mu.Lock()
	s.refuse = n
	s.mu.Unlock()
}

// SetSecret changes the secret logins are checked against.
func (s *Server) SetSecret(secret string) {
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
}

// Stats reports connections accepted, logins accepted and logins refused.
func (s *Server) Stats() (accepted, logins, failures int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.logins, s.failures
}

// Pongs is how many pings the server has answered.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// Close stops listening, drops every connection and waits for them to end.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		if s.closed || s.refuse > 0 {
			if s.refuse > 0 {
				s.refuse--
			}
			s.mu.Unlock()
			_ = c.Close()
			continue
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// conn is one client connection; wmu keeps the player's events and the
// action responses from interleaving on the wire.
type conn struct {
	net.Conn
	wmu       sync.Mutex
	challenge string
	synced    chan struct{}
	syncOnce  sync.Once
	stop      chan struct{}
	events    bool // logged in with events on
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write(b)
	return err
}

func (s *Server) serve(nc net.Conn) {
	c := &conn{Conn: nc, synced: make(chan struct{}), stop: make(chan struct{})}
	defer close(c.stop)
	defer func() {
		s.mu.Lock()
		delete(s.sessions, c)
		s.mu.Unlock()
	}()
	if err := c.write([]byte(Banner + "\r\n")); err != nil {
		return
	}
	br := bufio.NewReader(nc)
	loggedIn := false
	var player sync.WaitGroup
	defer player.Wait()
	for {
		act, err := readMessage(br)
		if err != nil {
			return
		}
		name, id := act["action"], act["actionid"]
		switch {
		case strings.EqualFold(name, "Challenge"):
			if !strings.EqualFold(act["authtype"], "MD5") {
				_ = c.write(response("Error", id, "Must specify AuthType"))
				continue
			}
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			c.challenge = strconv.FormatUint(uint64(b[0])<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]), 10)
			_ = c.write([]byte("Response: Success\r\nActionID: " + id + "\r\nChallenge: " + c.challenge + "\r\n\r\n"))
		case strings.EqualFold(name, "Login"):
			if !s.checkLogin(c, act) {
				// Asterisk answers and then hangs up on a failed login.
				_ = c.write(response("Error", id, "Authentication failed"))
				return
			}
			loggedIn = true
			s.mu.Lock()
			c.events = !strings.EqualFold(act["events"], "off")
			s.sessions[c] = true
			s.mu.Unlock()
			_ = c.write(response("Success", id, "Authentication accepted"))
			if c.events {
				_ = c.write([]byte("Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"))
			}
			player.Add(1)
			go func() {
				defer player.Done()
				s.play(c)
			}()
		case !loggedIn:
			_ = c.write(response("Error", id, "Permission denied"))
		case strings.EqualFold(name, "Ping"):
			if s.cfg.IgnorePing {
				continue
			}
			_ = c.write([]byte("Response: Success\r\nActionID: " + id + "\r\nPing: Pong\r\nTimestamp: " + s.now() + "\r\n\r\n"))
			s.mu.Lock()
			s.pongs++
			s.mu.Unlock()
		case strings.EqualFold(name, "CoreShowChannels"):
			// Written under s.mu, like the player's events: the list then
			// reflects exactly the events that precede it on the wire.
			s.mu.Lock()
			err := c.write(s.showChannels(id))
			s.mu.Unlock()
			c.syncOnce.Do(func() { close(c.synced) })
			if err != nil {
				return
			}
		case strings.EqualFold(name, "PJSIPShowEndpoints"):
			// Asterisk 22's shape: a response opening an event list, one
			// EndpointList event per endpoint, then the completion.
			var b strings.Builder
			fmt.Fprintf(&b, "Response: Success\r\nActionID: %s\r\nEventList: start\r\nMessage: A listing of Endpoints follows, presented as EndpointList events\r\n\r\n", id)
			for _, ep := range s.cfg.Endpoints {
				fmt.Fprintf(&b, "Event: EndpointList\r\nActionID: %s\r\nObjectType: endpoint\r\nObjectName: %s\r\nTransport: \r\nAor: %s\r\nAuths: %s\r\nOutboundAuths: \r\nContacts: \r\nDeviceState: Not in use\r\nActiveChannels: \r\n\r\n", id, ep, ep, ep)
			}
			fmt.Fprintf(&b, "Event: EndpointListComplete\r\nActionID: %s\r\nEventList: Complete\r\nListItems: %d\r\n\r\n", id, len(s.cfg.Endpoints))
			_ = c.write([]byte(b.String()))
		case strings.EqualFold(name, "Originate"):
			s.originate(c, act)
		case strings.EqualFold(name, "Logoff"):
			_ = c.write(response("Goodbye", id, "Thanks for all the fish."))
			return
		default:
			_ = c.write(response("Error", id, "Invalid/unknown command"))
		}
	}
}

func (s *Server) checkLogin(c *conn, act map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := act["username"] == s.cfg.Username
	if strings.EqualFold(act["authtype"], "MD5") {
		sum := md5.Sum([]byte(c.challenge + s.secret)) //nolint:gosec // the AMI protocol's choice
		ok = ok && c.challenge != "" && act["key"] == hex.EncodeToString(sum[:])
	} else {
		ok = ok && act["secret"] == s.secret
	}
	if ok {
		s.logins++
	} else {
		s.failures++
	}
	return ok
}

// play sends events from the shared cursor until the recording ends, the
// connection goes, or DropAfter fires.
func (s *Server) play(c *conn) {
	if s.cfg.HoldUntilSync {
		select {
		case <-c.synced:
		case <-c.stop:
			return
		}
	}
	for {
		if s.cfg.Interval > 0 {
			select {
			case <-time.After(s.cfg.Interval):
			case <-c.stop:
				return
			}
		}
		s.mu.Lock()
		if s.cursor >= len(s.events) {
			s.mu.Unlock()
			return
		}
		if s.cfg.DropAfter > 0 && !s.dropped && s.cursor >= s.cfg.DropAfter {
			s.dropped = true
			s.refuse = s.cfg.RefuseAfterDrop
			for i := 0; i < s.cfg.Gap && s.cursor < len(s.events); i++ {
				s.apply(s.events[s.cursor])
				s.advance()
			}
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		ev := s.events[s.cursor]
		err := c.write(append(ev[:len(ev):len(ev)], '\r', '\n'))
		if err == nil {
			s.apply(ev)
			s.advance()
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *Server) advance() {
	s.cursor++
	if s.cursor == len(s.events) {
		close(s.done)
	}
}

func (s *Server) now() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowTS
}

// Standard channel fields AMI repeats in every channel event; the state
// keeps the latest of each.
var channelFields = []string{"Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
	"ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority",
	"Uniqueid", "Linkedid"}

// apply folds one played event into the channel state.
func (s *Server) apply(ev []byte) {
	h := headers(ev)
	if ts := h["Timestamp"]; ts != "" {
		s.nowTS = ts
	}
	id := h["Uniqueid"]
	if id == "" {
		return
	}
	ch := s.chans[id]
	switch h["Event"] {
	case "Newchannel":
		ts, _ := strconv.ParseFloat(h["Timestamp"], 64)
		ch = &channel{fields: map[string]string{}, created: ts}
		s.chans[id] = ch
		s.order = append(s.order, id)
	case "Hangup":
		delete(s.chans, id)
		for i, o := range s.order {
			if o == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
		return
	}
	if ch == nil {
		return
	}
	for _, f := range channelFields {
		if v, ok := h[f]; ok {
			ch.fields[f] = v
		}
	}
	switch h["Event"] {
	case "Newexten":
		ch.fields["Application"], ch.fields["ApplicationData"] = h["Application"], h["AppData"]
	case "BridgeEnter":
		ch.fields["BridgeId"] = h["BridgeUniqueid"]
	case "BridgeLeave":
		if ch.fields["BridgeId"] == h["BridgeUniqueid"] {
			ch.fields["BridgeId"] = ""
		}
	}
}

// showChannels answers CoreShowChannels the way Asterisk 22 does: a
// response, one CoreShowChannel event per channel, then the completion.
func (s *Server) showChannels(id string) []byte {
	var b bytes.Buffer
	b.WriteString("Response: Success\r\nActionID: " + id + "\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n")
	now, _ := strconv.ParseFloat(s.nowTS, 64)
	ids := append([]string(nil), s.order...)
	sort.SliceStable(ids, func(i, j int) bool { return s.chans[ids[i]].created < s.chans[ids[j]].created })
	for _, cid := range ids {
		ch := s.chans[cid]
		b.WriteString("Event: CoreShowChannel\r\nActionID: " + id + "\r\n")
		for _, f := range channelFields {
			b.WriteString(f + ": " + ch.fields[f] + "\r\n")
		}
		age := max(0, int(now-ch.created))
		fmt.Fprintf(&b, "Application: %s\r\nApplicationData: %s\r\nDuration: %02d:%02d:%02d\r\nBridgeId: %s\r\n\r\n",
			ch.fields["Application"], ch.fields["ApplicationData"], age/3600, age/60%60, age%60, ch.fields["BridgeId"])
	}
	fmt.Fprintf(&b, "Event: CoreShowChannelsComplete\r\nActionID: %s\r\nEventList: Complete\r\nListItems: %d\r\n\r\n", id, len(ids))
	return b.Bytes()
}

func response(kind, id, msg string) []byte {
	return []byte("Response: " + kind + "\r\nActionID: " + id + "\r\nMessage: " + msg + "\r\n\r\n")
}

// readMessage reads one action; keys are lower-cased.
func readMessage(br *bufio.Reader) (map[string]string, error) {
	m := map[string]string{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(m) == 0 {
				continue
			}
			return m, nil
		}
		if len(m) > 100 {
			return nil, errors.New("fakeami: action too long")
		}
		k, v, _ := strings.Cut(line, ":")
		m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
}

// splitEvents returns the events of a recorded stream, each as its header
// lines with CRLF ends.
func splitEvents(rec []byte) [][]byte {
	var out [][]byte
	rec = bytes.ReplaceAll(rec, []byte("\r\n"), []byte("\n"))
	for _, blk := range bytes.Split(rec, []byte("\n\n")) {
		blk = bytes.TrimLeft(blk, "\n")
		if !bytes.HasPrefix(blk, []byte("Event: ")) {
			continue
		}
		blk = bytes.TrimRight(blk, "\n")
		out = append(out, append(bytes.ReplaceAll(blk, []byte("\n"), []byte("\r\n")), '\r', '\n'))
	}
	return out
}

func headers(ev []byte) map[string]string {
	h := map[string]string{}
	for _, line := range strings.Split(string(ev), "\r\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			k, ok = strings.CutSuffix(line, ":")
		}
		if ok {
			if _, seen := h[k]; !seen {
				h[k] = v
			}
		}
	}
	return h
}

var _ io.Closer = (*Server)(nil)
