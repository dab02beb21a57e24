package ami

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// OriginateVar is the channel variable an originated channel carries: the
// id callbridge gave it.
const OriginateVar = "CALLBRIDGE_ORIGINATE"

// OriginateConfig says how to place calls over AMI (click-to-dial). The
// manager user needs write = originate.
type OriginateConfig struct {
	// Conn is how to reach and log in to the manager interface (the
	// source's settings).
	Conn Config
	// Context is the dialplan context the number is dialled in once the
	// agent's phone answers.
	Context string
	// RingTimeout is how long the agent's phone rings. Default 30 s.
	RingTimeout time.Duration
	// RequestTimeout bounds the whole exchange, login to confirmation
	// (default 10 s): a click-to-dial answers within it.
	RequestTimeout time.Duration
}

// Refused is Asterisk's refusal of an originate, in its words.
type Refused struct{ Reason string }

func (r *Refused) Error() string { return "Asterisk refused the call: " + r.Reason }

// Originator places calls with Action: Originate, each from a short
// manager session of its own that logs in with events on: an asynchronous
// originate that fails reports it only as an OriginateResponse event.
type Originator struct {
	cfg OriginateConfig
	c   *Client
}

// NewOriginator checks cfg and returns an originator.
func NewOriginator(cfg OriginateConfig) (*Originator, error) {
	c, err := New(cfg.Conn, nil)
	if err != nil {
		return nil, err
	}
	if cfg.Context == "" || strings.ContainsAny(cfg.Context, "\r\n") {
		return nil, errors.New("ami: originate: a dialplan context (one line) is required")
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	return &Originator{cfg: cfg, c: c}, nil
}

// originateReasons are the Reason codes of a failed OriginateResponse
// (Asterisk's control frame numbers).
var originateReasons = map[string]string{
	"0": "the channel could not be created: no such endpoint, or its phone is not registered",
	"1": "the agent's phone hung up",
	"3": "the agent's phone did not answer",
	"5": "the agent's phone is busy",
	"8": "congestion",
}

// Originate rings endpoint (the agent's phone, "PJSIP/101") and, once it
// answers, sends it to number in the configured context, presenting
// callerID to the phone; id becomes the channel's Uniqueid (ChannelId),
// and so the call's id. It returns once Asterisk has created the channel
// (the phone is being rung) or refused: the Error response of the action,
// or an OriginateResponse Failure for it, as a *Refused. It never waits
// past RequestTimeout.
func (o *Originator) Originate(ctx context.Context, id, endpoint, number, callerID string) error {
	for _, v := range []string{id, endpoint, number, callerID} {
		if strings.ContainsAny(v, "\r\n") {
			return errors.New("ami: originate: a value with a line break")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	late := fmt.Errorf("ami: Asterisk did not confirm the call within %s: %w", o.cfg.RequestTimeout, context.DeadlineExceeded)
	conn, err := o.c.dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return late
		}
		return err
	}
	defer conn.Close()
	// Closing the connection is what ends a read when the time is up.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	rd := NewReader(conn)
	if err := o.c.login(conn, rd); err != nil {
		if ctx.Err() != nil {
			return late
		}
		return err
	}
	actionID := "callbridge-originate-" + id
	a := action("Originate", actionID)
	a.AddField("Channel", endpoint)
	a.AddField("Context", o.cfg.Context)
	a.AddField("Exten", number)
	a.AddField("Priority", "1")
	a.AddField("CallerID", callerID)
	a.AddField("Timeout", strconv.Itoa(int(o.cfg.RingTimeout/time.Millisecond)))
	a.AddField("Async", "true")
	a.AddField("ChannelId", id)
	a.AddField("Variable", OriginateVar+"="+id)
	if err := o.c.send(conn, a); err != nil {
		return err
	}
	defer func() { _ = o.c.send(conn, action("Logoff", "callbridge-logoff")) }()
	for {
		pkt, err := rd.ReadPacket()
		if errors.Is(err, ErrMalformed) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return late
			}
			if errors.Is(err, io.EOF) {
				return errors.New("ami: Asterisk closed the session before confirming the call")
			}
			return fmt.Errorf("ami: originate: %w", err)
		}
		m, err := parse(pkt)
		if err != nil {
			continue
		}
		switch field(m, "Event") {
		case "":
			if field(m, "ActionID") != actionID {
				continue
			}
			if !m.IsSuccess() {
				msg := field(m, "Message")
				if strings.Contains(strings.ToLower(msg), "permission denied") {
					msg += " (the manager user needs write = originate in manager.conf)"
				}
				return &Refused{Reason: msg}
			}
		case "Newchannel":
			if field(m, "Uniqueid") == id {
				return nil // the agent's phone is being rung
			}
		case "OriginateResponse":
			if field(m, "ActionID") != actionID {
				continue // another session's: every session with call events gets it
			}
			if strings.EqualFold(field(m, "Response"), "Success") {
				return nil
			}
			code := field(m, "Reason")
			why, ok := originateReasons[code]
			if !ok {
				why = "failed"
			}
			return &Refused{Reason: fmt.Sprintf("%s (OriginateResponse Reason %s)", why, code)}
		}
	}
}
