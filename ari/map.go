package ari

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/callbridge/callbridge/bridge"
)

// Decode turns one raw ARI websocket message into a bridge event: ari/v5's
// own decoder (the one its live client uses), then Map. ok is false for
// events the engine has no use for; err is set for messages that are not a
// well-formed ARI event.
func Decode(raw []byte) (ev bridge.Event, ok bool, err error) {
	if useless(raw) {
		return bridge.Event{}, false, nil
	}
	e, err := ari.DecodeEvent(raw)
	if err != nil {
		return bridge.Event{}, false, fmt.Errorf("ari: decode event: %w", err)
	}
	if e == nil {
		return bridge.Event{}, false, errors.New("ari: decode event: empty")
	}
	ev, ok = Map(e)
	if ok {
		dialledApps(raw, &ev)
	}
	return ev, ok, nil
}

// dialledAppKey is how a channel the PBX dialled shows in a raw event:
// its dialplan application AppDial, AppDial2 or AppQueue.
var dialledAppKey = []byte(`"app_name":"App`)

// rawChannel is what dialledApps reads of a channel in a raw event:
// ari/v5's DialplanCEP drops app_name.
type rawChannel struct {
	Dialplan *struct {
		AppName string `json:"app_name"`
	} `json:"dialplan"`
}

// dialled is the channel's application when it marks a channel the PBX
// dialled, else "".
func (c *rawChannel) dialled() string {
	if c == nil || c.Dialplan == nil {
		return ""
	}
	switch a := c.Dialplan.AppName; a {
	case "AppDial", "AppDial2", "AppQueue":
		return a
	}
	return ""
}

// dialledApps marks, on a mapped event's channels, the ones the PBX
// dialled (Channel.App AppDial, AppQueue or AppDial2), from the raw
// event's dialplan.app_name. A channel first met in a live event (not in
// the snapshot: a stream joined mid-call) is otherwise of unknown
// direction. Only these marks are read, the one thing the engine uses
// the application for outside a snapshot; most events carry none, and
// the check for them is a byte search.
func dialledApps(raw []byte, ev *bridge.Event) {
	if !bytes.Contains(raw, dialledAppKey) {
		return
	}
	var v struct{ Channel, Caller, Peer *rawChannel }
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	switch ev.Kind {
	case bridge.Dial:
		ev.Channel.App, ev.Peer.App = v.Caller.dialled(), v.Peer.dialled()
	case bridge.AttendedTransfer, bridge.BlindTransfer:
		// Their parties are under other names, and known by then.
	default:
		ev.Channel.App = v.Channel.dialled()
	}
}

var (
	typeKey     = []byte(`"type":"`)
	variableKey = []byte(`"variable":"`)
)

// mapped lists the event types Map uses; every other type is dropped by
// useless before the (costly) full decode.
var mapped = map[string]bool{
	"ChannelCreated": true, "ChannelStateChange": true, "ChannelConnectedLine": true,
	"Dial": true, "ChannelEnteredBridge": true, "ChannelLeftBridge": true,
	"BridgeBlindTransfer": true, "BridgeAttendedTransfer": true, "ChannelVarset": true,
	"ChannelHangupRequest": true, "ChannelDestroyed": true, "ChannelDtmfReceived": true,
}

// useless tells, from a glance at the raw message, that Map would drop it.
// Three of four ARI messages are device states, dialplan steps and RTP
// statistics variables, and skipping their decode is most of the cost of a
// busy PBX. A JSON string cannot hold an unescaped quote, so `"type":"` is
// only ever a key; no object nested in an ARI event has a "type" key. When
// in doubt it says no and the full decoder decides.
func useless(raw []byte) bool {
	t, ok := stringAfter(raw, typeKey)
	if !ok || len(t) == 0 {
		return false
	}
	if !mapped[string(t)] {
		return true
	}
	if string(t) == "ChannelVarset" {
		v, ok := stringAfter(raw, variableKey)
		return ok && !engineVar(string(v))
	}
	return false
}

// engineVar says whether the engine uses variable v: the privacy mark,
// also when set for inheritance (_ or __ before the name), and DIALSTATUS.
func engineVar(v string) bool {
	return strings.TrimLeft(v, "_") == bridge.PrivacyVar || v == "DIALSTATUS"
}

// stringAfter returns the plain (escape-free) string value following key.
func stringAfter(raw, key []byte) ([]byte, bool) {
	i := bytes.Index(raw, key)
	if i < 0 {
		return nil, false
	}
	rest := raw[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil, false
	}
	return rest[:j], true
}

// Map turns one decoded ARI event into a bridge event. ok is false for
// events that carry nothing the engine uses (DeviceStateChanged,
// ChannelDialplan, most variables, …).
func Map(e ari.Event) (ev bridge.Event, ok bool) {
	switch e := e.(type) {
	case *ari.ChannelCreated:
		return channelEvent(bridge.ChannelCreated, e.Timestamp, &e.Channel), true
	case *ari.ChannelStateChange:
		return channelEvent(bridge.ChannelUpdated, e.Timestamp, &e.Channel), true
	case *ari.ChannelConnectedLine:
		return channelEvent(bridge.ChannelUpdated, e.Timestamp, &e.Channel), true
	case *ari.Dial:
		ev = bridge.Event{
			Kind:       bridge.Dial,
			Time:       time.Time(e.Timestamp),
			Channel:    channel(&e.Caller),
			Peer:       channel(&e.Peer),
			DialStatus: e.Dialstatus,
			DialString: e.Dialstring,
			Forward:    e.Forward,
		}
		return ev, ev.Peer.ID != ""
	case *ari.ChannelEnteredBridge:
		return bridgeEvent(bridge.BridgeEnter, e.Timestamp, &e.Channel, &e.Bridge), true
	case *ari.ChannelLeftBridge:
		return bridgeEvent(bridge.BridgeLeave, e.Timestamp, &e.Channel, &e.Bridge), true
	case *ari.BridgeBlindTransfer:
		if e.Result != "" && e.Result != "Success" {
			return bridge.Event{}, false
		}
		return bridge.Event{
			Kind:    bridge.BlindTransfer,
			Time:    time.Time(e.Timestamp),
			Channel: channel(&e.Channel),
			Peer:    channel(&e.Transferee),
			Exten:   e.Exten,
			Context: e.Context,
		}, e.Channel.ID != ""
	case *ari.BridgeAttendedTransfer:
		if e.Result != "" && e.Result != "Success" {
			return bridge.Event{}, false
		}
		return bridge.Event{
			Kind:    bridge.AttendedTransfer,
			Time:    time.Time(e.Timestamp),
			Channel: channel(&e.TransfererFirstLeg),
			Peer:    channel(&e.Transferee),
			Second:  e.TransfererSecondLeg.ID,
			Target:  e.TransferTarget.ID,
		}, e.TransfererFirstLeg.ID != ""
	case *ari.ChannelVarset:
		// Only the privacy mark and the dial outcome matter to the engine;
		// the rest of the (many) variables are dropped here.
		if !engineVar(e.Variable) {
			return bridge.Event{}, false
		}
		return bridge.Event{
			Kind:    bridge.VarSet,
			Time:    time.Time(e.Timestamp),
			Channel: channel(&e.Channel),
			Var:     e.Variable,
			Value:   e.Value,
		}, e.Channel.ID != ""
	case *ari.ChannelHangupRequest:
		ev := channelEvent(bridge.HangupRequest, e.Timestamp, &e.Channel)
		ev.Cause = e.Cause
		return ev, true
	case *ari.ChannelDestroyed:
		ev := channelEvent(bridge.ChannelDestroyed, e.Timestamp, &e.Channel)
		ev.Cause = e.Cause
		return ev, true
	case *ari.ChannelDtmfReceived:
		// A transferer's keys during a consultation (the abort code)
		// say who ended it.
		ev := channelEvent(bridge.DTMF, e.Timestamp, &e.Channel)
		ev.Value = e.Digit
		return ev, e.Channel.ID != ""
	}
	return bridge.Event{}, false
}

func channelEvent(k bridge.Kind, ts ari.DateTime, c *ari.ChannelData) bridge.Event {
	return bridge.Event{Kind: k, Time: time.Time(ts), Channel: channel(c)}
}

func bridgeEvent(k bridge.Kind, ts ari.DateTime, c *ari.ChannelData, b *ari.BridgeData) bridge.Event {
	ev := channelEvent(k, ts, c)
	ev.Bridge = b.ID
	ev.Conference = isConference(b)
	return ev
}

// isConference tells bridges where separate calls meet (ConfBridge, Stasis
// bridges) from the basic two-party bridges of Dial,
// Queue and transfers, which join the parties into one call.
func isConference(b *ari.BridgeData) bool {
	return b.Creator == "ConfBridge" || b.Class == "stasis"
}

// Channel converts an ARI channel snapshot; exported for the live source's
// reconciliation, which lists channels over REST.
func Channel(c *ari.ChannelData) bridge.Channel { return channel(c) }

func channel(c *ari.ChannelData) bridge.Channel {
	if c == nil {
		return bridge.Channel{}
	}
	ch := bridge.Channel{
		ID:    c.ID,
		Name:  c.Name,
		State: bridge.ParseChannelState(c.State),
	}
	if c.Caller != nil {
		ch.CallerNumber, ch.CallerName = c.Caller.Number, c.Caller.Name
	}
	if c.Connected != nil {
		ch.ConnectedNumber, ch.ConnectedName = c.Connected.Number, c.Connected.Name
	}
	if c.Dialplan != nil {
		ch.Exten, ch.Context = c.Dialplan.Exten, c.Dialplan.Context
	}
	if c.Creationtime != nil {
		ch.Created = time.Unix(c.Creationtime.Seconds, int64(c.Creationtime.Nanos)).UTC()
	}
	return ch
}
