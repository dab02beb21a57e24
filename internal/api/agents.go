package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/internal/cards"
)

// Agents is the agents' desktop: their caller cards, presence, and the
// calls callbridge places for them. cards.Engine implements it.
type Agents interface {
	// Known reports whether extension is a user, and their name.
	Known(extension string) (name string, ok bool)
	// Subscribe streams extension's card events: first replay (the calls
	// in progress; after lastID, when resume, also what came since),
	// then events until cancel. A stream too slow to keep up has its
	// channel closed.
	Subscribe(extension string, lastID uint64, resume bool) (replay []cards.Event, events <-chan cards.Event, cancel func())
	Presence() []cards.Presence
	// Placing marks callID as a click-to-dial call of extension's to
	// number before the PBX is asked; forget undoes it.
	Placing(callID, extension, number string) (forget func())
}

// Dialer places a call for an agent: it rings endpoint (the agent's
// phone, "PJSIP/101") and, once answered, dials number from it, the phone
// showing callerID; id becomes the call's id in the PBX's events. It
// returns once the PBX has accepted or refused; a refusal's error carries
// the PBX's reason. ari.Originator (POST /channels) and ami.Originator
// (Action: Originate) implement it.
type Dialer interface {
	Originate(ctx context.Context, id, endpoint, number, callerID string) error
}

// ClickToDial is click-to-dial as configured (click_to_dial).
type ClickToDial struct {
	Dialer Dialer
	// Device is extension's phone ("PJSIP/101"), "" for none.
	Device func(extension string) string
	// CallerID is what the phone shows while it rings for number.
	CallerID func(extension, number string) string
	// Timeout bounds a request (0: 15 s); the dialers answer within
	// their own request timeouts, and this is the last word.
	Timeout time.Duration
}

const dialTimeout = 15 * time.Second

// GET /api/agents: every user with their phone state and whether their
// desktop is up (the admin's). GET /api/agents?user=101: that one user,
// which the user's own token may ask too; 404 for no such user.
func presence(a Agents) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := []cards.Presence{}
		if a != nil {
			out = a.Presence()
		}
		user := r.URL.Query().Get("user")
		if user == "" {
			writeJSON(w, http.StatusOK, out)
			return
		}
		for _, p := range out {
			if p.Extension == user {
				writeJSON(w, http.StatusOK, p)
				return
			}
		}
		if a != nil {
			if name, ok := a.Known(user); ok {
				writeJSON(w, http.StatusOK, cards.Presence{Extension: user, Name: name, Phone: cards.Idle})
				return
			}
		}
		http.Error(w, "no user "+user+" in the directory (users)", http.StatusNotFound)
	}
}

// GET /api/agents/{extension}/events: the agent's caller card as
// Server-Sent Events (offer, open, close, connected, ended), each with
// its id; a client reconnecting with Last-Event-ID gets the calls in
// progress and what it missed. Within the stream limits (429 beyond).
func (m *Mux) agentEvents(a Agents) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ext := r.PathValue("extension")
		fl, ok := w.(http.Flusher)
		if !ok || a == nil {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		if _, known := a.Known(ext); !known {
			http.Error(w, "no user "+ext+" in the directory (users)", http.StatusNotFound)
			return
		}
		release, err := m.streams.acquire(ext, m.Limits())
		if err != nil {
			w.Header().Set("Retry-After", "30")
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		defer release()
		var last uint64
		resume := false
		if h := r.Header.Get("Last-Event-ID"); h != "" {
			if n, err := strconv.ParseUint(strings.TrimSpace(h), 10, 64); err == nil {
				last, resume = n, true
			}
		}
		replay, ch, cancel := a.Subscribe(ext, last, resume)
		defer cancel()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no") // nginx: do not hold events back
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 3000\n\n")
		for _, ev := range replay {
			writeEvent(w, ev)
		}
		fl.Flush()
		tick := time.NewTicker(keepalive)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				fmt.Fprint(w, ": keepalive\n\n")
			case ev, ok := <-ch:
				if !ok {
					// Dropped for falling behind: the client reconnects
					// by itself, with Last-Event-ID, and misses nothing
					// still retained.
					return
				}
				writeEvent(w, ev)
			}
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, ev cards.Event) {
	b, _ := json.Marshal(ev)
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, b)
}

// DialResult is what POST /api/agents/{extension}/calls answers.
type DialResult struct {
	CallID    string `json:"call_id"`
	Extension string `json:"extension"`
	Number    string `json:"number"`
	// Internal: the number is another user's.
	Internal bool   `json:"internal"`
	Status   string `json:"status"`
}

// POST /api/agents/{extension}/calls {"number": "…"}: click-to-dial. The
// agent's phone rings first; once they pick up, the PBX dials the number.
// 202 once the PBX has accepted; 404 for an unknown extension (or
// click-to-dial off), 400 for a number that is none, 415 for a body that
// is not JSON (a form from another site cannot send one), 502 with the
// PBX's reason when it refuses, 504 when it does not answer in time.
func (m *Mux) dial(a Agents, current func() *ClickToDial) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ext := r.PathValue("extension")
		var c *ClickToDial
		if current != nil {
			c = current()
		}
		if c == nil || c.Dialer == nil || a == nil {
			http.Error(w, "click-to-dial is off (click_to_dial.enabled, and it needs ari or ami)", http.StatusNotFound)
			return
		}
		if _, known := a.Known(ext); !known {
			http.Error(w, "no user "+ext+" in the directory (users)", http.StatusNotFound)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, `want Content-Type: application/json and a body {"number": "…"}`, http.StatusUnsupportedMediaType)
			return
		}
		var body struct {
			Number string `json:"number"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, `want a JSON body {"number": "…"}`, http.StatusBadRequest)
			return
		}
		number, ok := dialable(body.Number)
		if !ok {
			http.Error(w, fmt.Sprintf("number %q: not a phone number (digits, a leading + and spaces or dashes only)", clip(body.Number, 40)), http.StatusBadRequest)
			return
		}
		device := c.Device(ext)
		if device == "" {
			http.Error(w, "no phone for user "+ext, http.StatusNotFound)
			return
		}
		id := callID()
		forget := a.Placing(id, ext, number)
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = dialTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		err := c.Dialer.Originate(ctx, id, device, number, c.CallerID(ext, number))
		_, internal := a.Known(number)
		log := m.log.Info().Str("user", ext).Str("call_id", id).Str("number", Masked(number))
		switch {
		case err == nil:
			log.Msg("click-to-dial: the agent's phone is ringing")
			writeJSON(w, http.StatusAccepted, DialResult{CallID: id, Extension: ext, Number: number, Internal: internal,
				Status: "ringing your phone: pick up and the number is dialled"})
		case ctx.Err() != nil || timedOut(err):
			forget()
			log.Err(err).Msg("click-to-dial: the PBX did not answer in time")
			http.Error(w, "the PBX did not answer in time: "+err.Error(), http.StatusGatewayTimeout)
		default:
			forget()
			log.Err(err).Msg("click-to-dial refused")
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}
}

// timedOut tells a PBX that did not answer in time from one that
// refused.
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// dialable is number as the dialplan gets it (separators dropped), and
// whether it is a number at all: digits, optionally after one '+'.
func dialable(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/':
		default:
			return "", false
		}
	}
	n := b.String()
	digits := len(strings.TrimPrefix(n, "+"))
	return n, digits >= 2 && digits <= 20
}

// callID is a fresh id for a click-to-dial call: the agent's channel's id
// in the PBX, and so the call's.
func callID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "cb-c2d-" + hex.EncodeToString(b)
}

// Masked is a number as info logs show it: its last three digits.
func Masked(n string) string {
	if len(n) <= 3 {
		return strings.Repeat("*", len(n))
	}
	return strings.Repeat("*", len(n)-3) + n[len(n)-3:]
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// GET /api/session: who the request's credential (cookie or bearer) is,
// for the /agent page to know whether it is signed in; 401 when nobody.
func whoami(auth Authorizer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := auth.Authenticate(r)
		if err != nil || !p.Role.valid() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
			http.Error(w, "unauthenticated: not signed in", http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK, p)
	}
}
