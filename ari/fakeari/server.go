package fakeari

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// Options configure a Server.
type Options struct {
	// Username and Password are the ARI user's credentials. Empty means
	// "asterisk" and "asterisk".
	Username, Password string
	// Recordings are played, in order, by Play.
	Recordings []Recording
	// Speed divides the pauses between events: 1 plays in real time, 10
	// ten times faster. 0 plays as fast as the clients read.
	Speed float64
	// Drops lose the clients in the middle of the play (see Drop).
	Drops []Drop
	// AwaitList makes playback hold, after each websocket client connects,
	// until both channels and bridges have been listed (GET /channels and
	// GET /bridges), as callbridge's source does after every connect.
	// Without it the listing races the next events and a test is not
	// repeatable.
	AwaitList bool
	// EntityID is Asterisk's id in /asterisk/info. Empty means the
	// asterisk_id of the first recorded event.
	EntityID string
	// Endpoints ("PJSIP/101") are listed by /endpoints from the start;
	// endpoints also appear once a channel of theirs has been created.
	Endpoints []string
	// CallerIDs are PJSIP endpoints' configured caller ids by resource
	// ("101": `"Alice Andersson" <101>`). Each is served, as Asterisk's
	// dynamic configuration does, at
	// /asterisk/config/dynamic/res_pjsip/endpoint/<resource>; other
	// endpoints answer 404 there.
	CallerIDs map[string]string
	// CEL, if set, receives every recording's CEL rows (Recording.CEL) as
	// playback reaches their time, as Asterisk's cel_custom appends them to
	// its CSV whether or not anyone is connected.
	CEL io.Writer
	// Hold makes playback wait whenever no events websocket is connected,
	// as a PBX's calls go on waiting while callbridge is down, rather than
	// play events to nobody. With AwaitList it also waits, after every
	// connect, until the new client has listed channels and bridges. An
	// event already written to a client that then goes away unread is
	// still lost, as it would be with a real Asterisk.
	Hold bool
	// Originate is played for every POST /channels the fake accepts
	// (originate.go); OriginateFor by endpoint ("PJSIP/101") before it.
	// Without either an accepted originate answers 500.
	Originate    *Originate
	OriginateFor map[string]*Originate
	// Offline endpoints are configured but not registered: listed, and
	// an originate to one fails as Asterisk's does.
	Offline []string
	// PauseBefore lists event indexes (counted from 0 over all
	// recordings) before which playback pauses until Resume, so a test
	// can look at a call in the middle.
	PauseBefore []int
	// Now is when an originate's events start; nil: time.Now.
	Now func() time.Time
}

// Drop closes every events websocket before event At (counted from 0 over
// all recordings, in play order) and refuses new ones, as an unreachable
// Asterisk would, until playback reaches event Resume. Events At to
// Resume-1 are lost to the clients, but the REST state still follows them.
// At Resume playback waits for a client to reconnect (and, with
// Options.AwaitList, to list channels and bridges) so that nothing after the gap is lost.
// Resume == At makes a plain disconnect with nothing lost.
type Drop struct {
	At, Resume int
}

// Server is a fake Asterisk ARI server listening on a loopback port.
type Server struct {
	opts Options
	ln   net.Listener
	http *http.Server
	url  string
	wg   sync.WaitGroup // websocket handlers

	playMu sync.Mutex // one Play at a time

	mu        sync.Mutex
	changed   chan struct{}              // closed and replaced when clients or listings change
	conns     map[*websocket.Conn]bool   // every open events websocket
	apps      map[*websocket.Conn]string // the application each one registered
	outboxes  map[*websocket.Conn]*outbox
	clients   map[*websocket.Conn]bool // those that subscribed to all events
	accepted  int                      // websocket connections accepted so far
	chansAt   int                      // value of accepted when channels were last listed
	bridgeAt  int                      // value of accepted when bridges were last listed
	refusing  bool
	away      bool // GoAway: REST refused too
	paused    bool
	pauseAt   int // PauseAt's count of events; -1: none
	closed    bool
	sent      int
	played    int       // events applied to the state so far, over every Play
	now       time.Time // the time of the last event played
	listedNow time.Time // now, as of the last listing of bridges
	st        *state
	// offline holds Options.Offline; originates counts POST /channels.
	offline    map[string]bool
	originates int
}

// New starts a server on 127.0.0.1 with a free port.
func New(opts Options) (*Server, error) {
	if opts.Username == "" {
		opts.Username = "asterisk"
	}
	if opts.Password == "" {
		opts.Password = "asterisk"
	}
	if opts.Speed < 0 {
		return nil, errors.New("fakeari: negative speed")
	}
	for _, d := range opts.Drops {
		if d.At < 0 || d.Resume < d.At {
			return nil, fmt.Errorf("fakeari: drop at %d resuming at %d: resume must not come before the drop", d.At, d.Resume)
		}
	}
	if opts.EntityID == "" {
		opts.EntityID = entityID(opts.Recordings)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeari: listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		ln:       ln,
		url:      "http://" + ln.Addr().String() + "/ari",
		changed:  make(chan struct{}),
		conns:    map[*websocket.Conn]bool{},
		apps:     map[*websocket.Conn]string{},
		outboxes: map[*websocket.Conn]*outbox{},
		clients:  map[*websocket.Conn]bool{},
		st:       newState(append(append([]string(nil), opts.Endpoints...), opts.Offline...)),
		offline:  map[string]bool{},
		pauseAt:  -1,
	}
	for _, e := range opts.Offline {
		s.offline[e] = true
	}
	mux := http.NewServeMux()
	mux.Handle("/ari/events", s.auth(http.HandlerFunc(s.serveEvents)))
	mux.Handle("/ari/", s.auth(http.HandlerFunc(s.serveREST)))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // returns ErrServerClosed at Close
	return s, nil
}

// URL is the ARI base URL, e.g. "http://127.0.0.1:38021/ari".
func (s *Server) URL() string { return s.url }

// Username and Password are the credentials the server accepts.
func (s *Server) Username() string { return s.opts.Username }

// Password is the accepted password.
func (s *Server) Password() string { return s.opts.Password }

// Sent is how many messages have been written to websocket clients (one per
// client per event).
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Played is how many events playback has reached so far (each counted once,
// however many clients it was written to, and whether or not any was).
func (s *Server) Played() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.played
}

// Clients is how many events websockets are connected.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Close stops the server and disconnects every client.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.http.Close()
	s.wg.Wait()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Play sends every recording's events to the connected clients, in order,
// paced by their timestamps and Options.Speed, and advances the REST state
// with each. It first waits for a client, so that a test may start its
// client and Play in any order. It returns when all events are played, or
// with ctx's error.
func (s *Server) Play(ctx context.Context) error {
	s.playMu.Lock()
	defer s.playMu.Unlock()
	if err := s.waitClient(ctx); err != nil {
		return err
	}
	var prev, clock time.Time
	var cel []celRow
	if s.opts.CEL != nil {
		for _, rec := range s.opts.Recordings {
			cel = append(cel, rec.celRows()...)
		}
	}
	// writeCEL writes the CEL rows due by t.
	writeCEL := func(t time.Time) error {
		for len(cel) > 0 && !cel[0].at.After(t) {
			if _, err := s.opts.CEL.Write(cel[0].line); err != nil {
				return fmt.Errorf("fakeari: write CEL: %w", err)
			}
			cel = cel[1:]
		}
		return nil
	}
	i := 0
	for _, rec := range s.opts.Recordings {
		shift := rec.shift()
		for j, line := range rec.Lines {
			if err := s.dropsAt(ctx, i); err != nil {
				return err
			}
			line = rewrite(line, shift, rec.Tag)
			if t, ok := timestamp(line); ok {
				// Unshifted recordings follow one another without a pause.
				if !prev.IsZero() && (j > 0 || !rec.Start.IsZero()) {
					if err := s.pause(ctx, t.Sub(prev)); err != nil {
						return err
					}
				}
				prev = t
			}
			// CEL follows the PBX's clock: the newest event time so far
			// (events are not always sent in the order of their times).
			if t, ok := timestamp(line); ok && t.After(clock) {
				clock = t
			}
			if err := writeCEL(clock); err != nil {
				return err
			}
			if slices.Contains(s.opts.PauseBefore, i) || s.reachedPauseAt() {
				s.Pause()
			}
			// After the pause: the client may have gone during it.
			if err := s.gate(ctx); err != nil {
				return err
			}
			s.play(line)
			if s.opts.Speed == 0 {
				if err := s.drain(ctx); err != nil {
					return err
				}
			}
			i++
		}
	}
	// The last channels' ends come after the last event.
	for len(cel) > 0 {
		if at := cel[0].at; at.After(clock) {
			if err := s.pause(ctx, at.Sub(clock)); err != nil {
				return err
			}
			clock = at
		}
		if err := writeCEL(clock); err != nil {
			return err
		}
	}
	// A drop whose gap runs to the end still ends with the clients back.
	if err := s.dropsAt(ctx, i); err != nil {
		return err
	}
	return s.flush(ctx)
}

func (s *Server) pause(ctx context.Context, d time.Duration) error {
	if s.opts.Speed == 0 || d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(d) / s.opts.Speed))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dropsAt applies the drops that start or end at event i.
func (s *Server) dropsAt(ctx context.Context, i int) error {
	for _, d := range s.opts.Drops {
		if d.At == i {
			if err := s.flush(ctx); err != nil {
				return err
			}
			s.mu.Lock()
			s.refusing = true
			for c := range s.conns {
				c.Close()
			}
			clear(s.clients)
			s.notifyLocked()
			s.mu.Unlock()
		}
	}
	for _, d := range s.opts.Drops {
		if d.Resume == i {
			s.mu.Lock()
			s.refusing = false
			s.mu.Unlock()
			if err := s.waitClient(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Pause stops playback before its next event until Resume, as a quiet
// moment on the PBX would; an event being written when Pause is called is
// still written. The REST state stays as it is meanwhile.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
	s.notifyLocked()
}

// PauseAt pauses playback, until Resume, before the next event once n
// events have been played (Played), counted over every Play: at once if
// that many already were. It is for one pause; a later call replaces it.
func (s *Server) PauseAt(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pauseAt = n
}

// Paused reports whether playback is paused (Pause, PauseAt, PauseBefore).
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

// reachedPauseAt tells the playback loop PauseAt's count is reached, once.
func (s *Server) reachedPauseAt() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pauseAt < 0 || s.played < s.pauseAt {
		return false
	}
	s.pauseAt = -1
	return true
}

// Resume lets playback go on after Pause.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	s.notifyLocked()
}

// gate holds playback while it is paused and, with Hold, while no client
// is ready.
func (s *Server) gate(ctx context.Context) error {
	for {
		s.mu.Lock()
		paused, closed, ch := s.paused, s.closed, s.changed
		s.mu.Unlock()
		if closed {
			return errors.New("fakeari: server closed")
		}
		if !paused {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.opts.Hold {
		return s.waitClient(ctx)
	}
	return nil
}

// waitClient waits until a client is connected and, with AwaitList, has
// listed channels since the last connect.
func (s *Server) waitClient(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready := len(s.clients) > 0 && (!s.opts.AwaitList || min(s.chansAt, s.bridgeAt) >= s.accepted)
		closed, ch := s.closed, s.changed
		s.mu.Unlock()
		switch {
		case ready:
			return nil
		case closed:
			return errors.New("fakeari: server closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// play applies one event to the state and queues it for every client. A
// client whose queue is full (it stopped reading) is disconnected, as
// Asterisk drops a websocket it cannot write to; the others, and playback
// paced by Speed, never wait for it. (At Speed 0 Play then drains the
// queues: as fast as the clients read.)
func (s *Server) play(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.apply(line)
	s.played++
	if t, ok := timestamp(line); ok {
		s.now = t
	}
	msg := string(line)
	for c := range s.clients {
		s.outboxes[c].put(c, msg)
	}
}

// auth checks credentials as Asterisk does: HTTP basic authentication or an
// api_key=user:pass query parameter.
func (s *Server) auth(next http.Handler) http.Handler {
	next = s.unlessAway(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			if key := r.URL.Query().Get("api_key"); key != "" {
				user, pass, ok = strings.Cut(key, ":")
			}
		}
		if !ok || !equal(user, s.opts.Username) || !equal(pass, s.opts.Password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeJSON(w, http.StatusUnauthorized, message("Authentication required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("app") == "" {
		writeJSON(w, http.StatusBadRequest, message("Missing parameter app"))
		return
	}
	s.mu.Lock()
	refuse := s.refusing || s.closed
	s.mu.Unlock()
	if refuse {
		writeJSON(w, http.StatusServiceUnavailable, message("Asterisk is not accepting connections"))
		return
	}
	// Without subscribeAll a real Asterisk sends only the events of
	// channels in the application's Stasis, and no recorded call is.
	all := q.Get("subscribeAll") == "true"
	srv := websocket.Server{
		// Count the connection before the handshake's answer goes out:
		// the client may list channels before serveConn runs, and that
		// listing must count as made after this connect.
		Handshake: func(*websocket.Config, *http.Request) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.closed || s.refusing {
				return errors.New("not accepting connections")
			}
			s.accepted++
			return nil
		},
		Handler: func(c *websocket.Conn) {
			s.serveConn(c, q.Get("app"), all)
		},
	}
	srv.ServeHTTP(w, r)
}

func (s *Server) serveConn(c *websocket.Conn, app string, all bool) {
	s.mu.Lock()
	if s.closed || s.refusing {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	// One websocket per application, as in Asterisk: a second one with
	// the same name takes it over, and the first is told so and then
	// hears nothing more, although it stays connected.
	for other, name := range s.apps {
		if name == app && s.clients[other] {
			delete(s.clients, other)
			s.outboxes[other].put(other, fmt.Sprintf(`{"type":"ApplicationReplaced","timestamp":%q,"application":%q}`,
				time.Now().Format(ariTime), app))
		}
	}
	o := newOutbox()
	s.conns[c] = true
	s.apps[c] = app
	s.outboxes[c] = o
	if all {
		s.clients[c] = true
	}
	s.notifyLocked()
	s.wg.Add(1)
	go s.write(c, o)
	s.mu.Unlock()
	// Read until the client goes away or Close or a drop closes c; clients
	// send nothing Asterisk would act on.
	var discard []byte
	for websocket.Message.Receive(c, &discard) == nil {
	}
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.apps, c)
	close(o.gone)
	delete(s.outboxes, c)
	if s.clients[c] {
		delete(s.clients, c)
		s.notifyLocked()
	}
	s.mu.Unlock()
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/ari/"), "/")
	resource, id, _ := strings.Cut(path, "/")
	if r.Method == http.MethodPost && path == "channels" {
		s.serveOriginate(w, r)
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, message("Method not allowed"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v any
	switch {
	case path == "asterisk/info":
		v = s.info()
	case path == "asterisk/ping":
		// Asterisk's time is the recording's. A client pings right after
		// listing channels and bridges, which a real Asterisk answers
		// within milliseconds; playback here may have run far ahead by
		// then, so the answer is the time as of the last bridge listing
		// (or of the last event played, when nothing was listed).
		at := s.now
		if !s.listedNow.IsZero() {
			at = s.listedNow
		}
		if at.IsZero() {
			at = time.Now()
		}
		v = map[string]string{"asterisk_id": s.opts.EntityID, "ping": "pong", "timestamp": at.Format(ariTime)}
	case resource == "channels" && id == "":
		v = s.st.channelList()
		s.chansAt = s.accepted
		s.notifyLocked()
	case resource == "channels":
		c, ok := s.st.channels[id]
		if !ok {
			writeJSON(w, http.StatusNotFound, message("Channel not found"))
			return
		}
		v = c
	case resource == "bridges" && id == "":
		v = s.st.bridgeList()
		s.bridgeAt = s.accepted
		s.listedNow = s.now
		s.notifyLocked()
	case resource == "bridges":
		b, ok := s.st.bridge(id)
		if !ok {
			writeJSON(w, http.StatusNotFound, message("Bridge not found"))
			return
		}
		v = b
	case resource == "endpoints" && id == "":
		v = s.st.endpointList()
	case resource == "endpoints":
		s.serveEndpoint(w, id)
		return
	case strings.HasPrefix(path, endpointConfig):
		cid, ok := s.opts.CallerIDs[strings.TrimPrefix(path, endpointConfig)]
		if !ok {
			writeJSON(w, http.StatusNotFound, message("Object not found"))
			return
		}
		// A real endpoint has dozens of attributes; these are enough to
		// show the shape.
		v = []map[string]string{
			{"attribute": "callerid", "value": cid},
			{"attribute": "context", "value": "internal"},
		}
	default:
		writeJSON(w, http.StatusNotFound, message("Resource not found"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// endpointConfig is where Asterisk's dynamic configuration serves a PJSIP
// endpoint, as ConfigTuples.
const endpointConfig = "asterisk/config/dynamic/res_pjsip/endpoint/"

// info is /asterisk/info in the shape Asterisk 22 gives it.
func (s *Server) info() any {
	now := time.Now().Format(ariTime)
	return map[string]any{
		"build": map[string]any{
			"os": "Linux", "kernel": "6.1.0", "machine": "x86_64",
			"options": "", "date": "2026-01-01 00:00:00 UTC", "user": "root",
		},
		"system": map[string]any{"version": "22.10.1", "entity_id": s.opts.EntityID},
		"config": map[string]any{
			"name": "", "default_language": "en",
			"setid": map[string]any{"user": "asterisk", "group": "asterisk"},
		},
		"status": map[string]any{"startup_time": now, "last_reload_time": now},
	}
}

func message(m string) map[string]string { return map[string]string{"message": m} }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

func entityID(recs []Recording) string {
	for _, r := range recs {
		for _, l := range r.Lines {
			var v struct {
				ID string `json:"asterisk_id"`
			}
			if json.Unmarshal(l, &v) == nil && v.ID != "" {
				return v.ID
			}
		}
	}
	return "02:fc:00:00:00:01"
}
