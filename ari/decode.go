package ari

import (
	"time"
	"unicode/utf8"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/gogo/protobuf/types"

	"github.com/callbridge/callbridge/bridge"
)

// Decoder is the hot path from a raw ARI websocket message to a bridge
// event: one pass over the bytes, straight into the ari/v5 event structs
// that Map reads, with no reflection and no allocation beyond the strings
// the event keeps (and its tables' buffers while they fill). It gives exactly what Decode (ari/v5's own decoder, then
// Map) gives, message for message, because it only decides what it is sure
// of: anything unusual (an escape in a string it keeps, a key in another
// case, a repeated key, a value of an unexpected JSON type, an event type it
// has no schema for) is handed to Decode whole. Real Asterisk never sends
// such messages, so in practice the fallback is for garbage, which Decode
// then refuses.
//
// The mapping to bridge.Event is Map itself: the Decoder only fills the
// fields Map reads (listed in filledFields; a test fails if Map starts
// reading another), so map.go stays the one place the rules live.
//
// What recurs from message to message is not worked out again: strings
// (stringCache), timestamps (timeCache) and whole channel, caller id and
// dialplan objects (memo, decode_memo.go) come from small bounded tables,
// each of which answers only for bytes identical to what it read.
//
// A Decoder is not safe for concurrent use; it reuses its scratch space.
type Decoder struct {
	b       []byte
	typ     evType
	seen    uint64 // top-level fields met, by topField
	ts      time.Time
	strs    [nStrs]string
	cause   int64
	chans   [nChans]chanSlot
	bridge  [nBridges]ari.BridgeData
	ev      typedEvents
	out     bridge.Event // the mapped event, passed on by pointer: it is large
	strings stringCache
	times   timeCache
	memo    memos

	// Fallbacks counts messages Decode had to decide.
	Fallbacks int
}

// chanSlot is the storage behind one ari.ChannelData, so its pointers
// need no allocation.
type chanSlot struct {
	cd                ari.ChannelData
	caller, connected ari.CallerID
	dialplan          ari.DialplanCEP
	created           types.Timestamp
	app               string // dialplan.app_name, which ari/v5's DialplanCEP drops
}

type typedEvents struct {
	created   ari.ChannelCreated
	state     ari.ChannelStateChange
	connected ari.ChannelConnectedLine
	dial      ari.Dial
	entered   ari.ChannelEnteredBridge
	left      ari.ChannelLeftBridge
	blind     ari.BridgeBlindTransfer
	attended  ari.BridgeAttendedTransfer
	varset    ari.ChannelVarset
	hangup    ari.ChannelHangupRequest
	destroyed ari.ChannelDestroyed
	dtmf      ari.ChannelDtmfReceived
}

// evType is an event type the Decoder has a schema for.
type evType uint8

const (
	tNone evType = iota
	tChannelCreated
	tChannelStateChange
	tChannelConnectedLine
	tDial
	tChannelEnteredBridge
	tChannelLeftBridge
	tBridgeBlindTransfer
	tBridgeAttendedTransfer
	tChannelVarset
	tChannelHangupRequest
	tChannelDestroyed
	tChannelDtmfReceived
)

func eventType(s []byte) evType {
	switch string(s) {
	case "ChannelCreated":
		return tChannelCreated
	case "ChannelStateChange":
		return tChannelStateChange
	case "ChannelConnectedLine":
		return tChannelConnectedLine
	case "Dial":
		return tDial
	case "ChannelEnteredBridge":
		return tChannelEnteredBridge
	case "ChannelLeftBridge":
		return tChannelLeftBridge
	case "BridgeBlindTransfer":
		return tBridgeBlindTransfer
	case "BridgeAttendedTransfer":
		return tBridgeAttendedTransfer
	case "ChannelVarset":
		return tChannelVarset
	case "ChannelHangupRequest":
		return tChannelHangupRequest
	case "ChannelDestroyed":
		return tChannelDestroyed
	case "ChannelDtmfReceived":
		return tChannelDtmfReceived
	}
	return tNone
}

// Decode maps one message as the package-level Decode does.
func (d *Decoder) Decode(raw []byte) (ev bridge.Event, ok bool, err error) {
	g := glance(raw)
	if ok, _, err = d.decodeGlanced(raw, &g); ok {
		ev = d.out
	}
	return ev, ok, err
}

// decode is Decode that also returns, for a message the engine has no use
// for, its timestamp as read at a glance (zero if none): the live source
// keeps it as the last moment the connection was known alive.
func (d *Decoder) decode(raw []byte) (ev bridge.Event, ok bool, at time.Time, err error) {
	g := glance(raw)
	if ok, at, err = d.decodeGlanced(raw, &g); ok {
		ev = d.out
	}
	return ev, ok, at, err
}

// decodeGlanced is decode with the message's glance already taken; the
// event, when ok, is in d.out (bridge.Event is some 800 bytes, and most
// messages have none: no copies of it are made or cleared on the way).
func (d *Decoder) decodeGlanced(raw []byte, g *glanced) (ok bool, at time.Time, err error) {
	typ, skip := tNone, false
	switch {
	case !g.has(keyType):
		skip = useless(raw)
	case len(g.typ) == 0:
	default:
		// eventType knows exactly the types in mapped (TestEventTypesAreMapped).
		switch typ = eventType(g.typ); {
		case typ == tNone:
			skip = true
		case typ == tChannelVarset && g.has(keyVariable):
			skip = !engineVar(string(g.variable))
		case typ == tChannelVarset:
			skip = useless(raw)
		}
	}
	if skip {
		ts, ok := g.ts, g.has(keyTimestamp)
		if !ok {
			ts, ok = stringAfter(raw, timestampKey)
		}
		if ok {
			at, _ = d.times.parse(ts)
		}
		return false, at, nil
	}
	if !g.has(keyType) {
		t, _ := stringAfter(raw, typeKey)
		typ = eventType(t)
	}
	if d.typ = typ; d.typ == tNone || !d.scan(raw) {
		d.Fallbacks++
		d.out, ok, err = Decode(raw)
		return ok, time.Time{}, err
	}
	if ok = d.event(); ok {
		d.dialledApps(&d.out)
	}
	return ok, time.Time{}, nil
}

// dialledApps is map.go's dialledApps from the scanned app names.
func (d *Decoder) dialledApps(ev *bridge.Event) {
	app := func(f int) string {
		return (&rawChannel{Dialplan: &struct {
			AppName string `json:"app_name"`
		}{d.chans[f-fChannel].app}}).dialled()
	}
	switch ev.Kind {
	case bridge.Dial:
		ev.Channel.App, ev.Peer.App = app(fCaller), app(fPeer)
	case bridge.AttendedTransfer, bridge.BlindTransfer:
	default:
		ev.Channel.App = app(fChannel)
	}
}

var timestampKey = []byte(`"timestamp":"`)

// glanced is what glance found; found has a bit per key.
type glanced struct {
	typ, variable, ts []byte
	found             uint8
}

const (
	keyType = 1 << iota
	keyVariable
	keyTimestamp
)

func (g *glanced) has(k uint8) bool { return g.found&k != 0 }

// glance reads the type, variable and timestamp of a message from its
// leading keys, as far as their values are plain strings, numbers or
// literals in Asterisk's compact form
// ({"variable":"X","value":"Y","type":"ChannelVarset",...} or
// {"cause":16,"soft":true,"type":"ChannelHangupRequest",...}): all the skip
// of unused messages needs, read once. What it finds is what useless and
// the live source's glance at the timestamp (both in search of the first
// `"key":"` anywhere in the message) would find: every quote before the
// point it stops at is a key's or a plain string's, so the first
// occurrence is the key it met. A key it did not reach is not reported,
// and those searches decide.
func glance(raw []byte) (g glanced) {
	if at(raw, 0) != '{' {
		return g
	}
	for i := 1; g.found != keyType|keyVariable|keyTimestamp; {
		k, esc, _ := scanString(raw, i)
		if k == bail || esc || at(raw, k) != ':' {
			return g
		}
		key, v := raw[i+1:k-1], k+1
		switch c := at(raw, v); {
		case c == '"':
			end, esc, _ := scanString(raw, v)
			if end == bail || esc {
				return g
			}
			val := raw[v+1 : end-1]
			switch string(key) {
			case "type":
				g.set(keyType, &g.typ, val)
			case "variable":
				g.set(keyVariable, &g.variable, val)
			case "timestamp":
				g.set(keyTimestamp, &g.ts, val)
			}
			v = end
		case c == '{' || c == '[':
			return g // it may hold quotes
		case string(key) == "type" || string(key) == "variable" || string(key) == "timestamp":
			return g // not a string: the search goes on further
		default: // a number or a literal: no quotes in it
			if v = skipValue(raw, v, 0); v == bail {
				return g
			}
		}
		if g.has(keyType) && g.has(keyTimestamp) && (string(g.typ) != "ChannelVarset" || g.has(keyVariable)) {
			return g
		}
		if at(raw, v) != ',' {
			return g
		}
		i = v + 1
	}
	return g
}

func (g *glanced) set(k uint8, dst *[]byte, v []byte) {
	if !g.has(k) {
		g.found |= k
		*dst = v
	}
}

// scan reads the whole message into the scratch fields; false means
// "not sure": Decode decides.
func (d *Decoder) scan(b []byte) bool {
	d.b, d.seen, d.ts, d.cause = b, 0, time.Time{}, 0
	d.strs = [nStrs]string{}
	for i := range d.chans {
		d.chans[i].app = "" // a channel absent from this message
	}
	typeOK := false
	i, more := openObject(b, skipSpace(b, 0))
	for more {
		k, v := memberKey(b, i)
		if v == bail {
			return false
		}
		if i = d.topValue(k, v, &typeOK); i == bail {
			return false
		}
		i, more = nextMember(b, i)
	}
	if i == bail || skipSpace(b, i) != len(b) || !typeOK {
		return false
	}
	// Channels and bridges not in this message read as absent.
	for f := fChannel; f < fBridge; f++ {
		if d.seen&(1<<f) == 0 {
			d.chans[f-fChannel].cd = ari.ChannelData{}
		}
	}
	for f := fBridge; f < nTop; f++ {
		if d.seen&(1<<f) == 0 {
			d.bridge[f-fBridge] = ari.BridgeData{}
		}
	}
	return true
}

// topValue reads the value at b[i] of the top-level member k and returns
// the index after it.
func (d *Decoder) topValue(k []byte, i int, typeOK *bool) int {
	b := d.b
	f := topField(k)
	if f == fUnknown {
		return skipMember(b, k, i)
	}
	if declared[d.typ]&(1<<f) == 0 {
		return skipValue(b, i, 0)
	}
	if d.seen&(1<<f) != 0 {
		return bail // a repeated key: encoding/json's last-one-wins is its business
	}
	d.seen |= 1 << f
	switch {
	case f == fType:
		end, esc, high := scanString(b, i)
		if end == bail || esc || high {
			return bail
		}
		*typeOK = eventType(b[i+1:end-1]) == d.typ
		return end
	case f == fTimestamp:
		end, esc, high := scanString(b, i)
		if end == bail || esc || high {
			return bail
		}
		t, ok := d.times.parse(b[i+1 : end-1])
		if !ok {
			return bail
		}
		d.ts = t
		return end
	case f < fCause:
		if fill&(1<<f) == 0 {
			return checkString(b, i)
		}
		return d.str(i, &d.strs[f])
	case f == fCause:
		if isNull(b, i) {
			return i + 4
		}
		end, v := scanInt(b, i)
		d.cause = v
		return end
	case f == fDurationMs:
		if isNull(b, i) {
			return i + 4
		}
		end, _ := scanInt(b, i)
		return end
	case f < fChannel: // soft, is_external
		return checkBool(b, i)
	case f < fBridge:
		return d.memoChannel(i, &d.chans[f-fChannel])
	default:
		return d.bridgeData(i, &d.bridge[f-fBridge])
	}
}

// str takes the string value at b[i] into *dst; null leaves it empty, as
// encoding/json leaves a fresh field. Escapes and invalid UTF-8 (which
// encoding/json rewrites) bail.
func (d *Decoder) str(i int, dst *string) int {
	b := d.b
	if at(b, i) == 'n' {
		return literal(b, i, "null")
	}
	end, esc, high := scanString(b, i)
	if end == bail || esc {
		return bail
	}
	v := b[i+1 : end-1]
	if high && !utf8.Valid(v) {
		return bail
	}
	*dst = d.strings.get(v)
	return end
}

// checkString validates a string (or null) that is not kept.
func checkString(b []byte, i int) int {
	if at(b, i) == 'n' {
		return literal(b, i, "null")
	}
	end, _, _ := scanString(b, i)
	return end
}

func checkBool(b []byte, i int) int {
	switch at(b, i) {
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return bail
}

func (d *Decoder) ch(f int) ari.ChannelData { return d.chans[f-fChannel].cd }
func (d *Decoder) br(f int) ari.BridgeData  { return d.bridge[f-fBridge] }

// event builds the typed ari/v5 event from the scratch fields and maps it
// into d.out.
func (d *Decoder) event() (ok bool) {
	ed := ari.EventData{Timestamp: ari.DateTime(d.ts)}
	e := &d.ev
	switch d.typ {
	case tChannelCreated:
		e.created = ari.ChannelCreated{EventData: ed, Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.created)
	case tChannelStateChange:
		e.state = ari.ChannelStateChange{EventData: ed, Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.state)
	case tChannelConnectedLine:
		e.connected = ari.ChannelConnectedLine{EventData: ed, Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.connected)
	case tDial:
		e.dial = ari.Dial{EventData: ed, Caller: d.ch(fCaller), Peer: d.ch(fPeer), Forwarded: d.ch(fForwarded),
			Dialstatus: d.strs[fDialstatus], Dialstring: d.strs[fDialstring], Forward: d.strs[fForward]}
		d.out, ok = Map(&e.dial)
	case tChannelEnteredBridge:
		e.entered = ari.ChannelEnteredBridge{EventData: ed, Bridge: d.br(fBridge), Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.entered)
	case tChannelLeftBridge:
		e.left = ari.ChannelLeftBridge{EventData: ed, Bridge: d.br(fBridge), Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.left)
	case tBridgeBlindTransfer:
		e.blind = ari.BridgeBlindTransfer{EventData: ed, Bridge: d.br(fBridge), Channel: d.ch(fChannel),
			Context: d.strs[fContext], Exten: d.strs[fExten], ReplaceChannel: d.ch(fReplaceChannel),
			Result: d.strs[fResult], Transferee: d.ch(fTransferee)}
		d.out, ok = Map(&e.blind)
	case tBridgeAttendedTransfer:
		e.attended = ari.BridgeAttendedTransfer{EventData: ed,
			DestinationLinkFirstLeg: d.ch(fDestLinkFirstLeg), DestinationLinkSecondLeg: d.ch(fDestLinkSecondLeg),
			DestinationThreewayBridge: d.br(fDestThreewayBridge), DestinationThreewayChannel: d.ch(fDestThreewayChannel),
			ReplaceChannel: d.ch(fReplaceChannel), Result: d.strs[fResult], TransferTarget: d.ch(fTransferTarget),
			Transferee: d.ch(fTransferee), TransfererFirstLeg: d.ch(fTransfererFirstLeg),
			TransfererFirstLegBridge: d.br(fTransfererFirstLegBridge), TransfererSecondLeg: d.ch(fTransfererSecondLeg),
			TransfererSecondLegBridge: d.br(fTransfererSecondLegBridge)}
		d.out, ok = Map(&e.attended)
	case tChannelVarset:
		e.varset = ari.ChannelVarset{EventData: ed, Channel: d.ch(fChannel), Value: d.strs[fValue], Variable: d.strs[fVariable]}
		d.out, ok = Map(&e.varset)
	case tChannelHangupRequest:
		e.hangup = ari.ChannelHangupRequest{EventData: ed, Cause: int(d.cause), Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.hangup)
	case tChannelDestroyed:
		e.destroyed = ari.ChannelDestroyed{EventData: ed, Cause: int(d.cause), Channel: d.ch(fChannel)}
		d.out, ok = Map(&e.destroyed)
	case tChannelDtmfReceived:
		e.dtmf = ari.ChannelDtmfReceived{EventData: ed, Channel: d.ch(fChannel), Digit: d.strs[fDigit]}
		d.out, ok = Map(&e.dtmf)
	}
	return ok
}

// filledFields lists, per ari/v5 struct, the fields the Decoder fills.
// Every ChannelData, BridgeData, CallerID and DialplanCEP in an event is
// filled with the fields listed for its type. Map may read these and no
// others: TestMapReadsOnlyFilledFields changes every other field of every
// recorded event and fails if Map's answer changes. A field added here
// must be filled above.
var filledFields = map[string][]string{
	"EventData":              {"Timestamp"},
	"ChannelData":            {"ID", "Name", "State", "Caller", "Connected", "Dialplan", "Creationtime"},
	"CallerID":               {"Name", "Number"},
	"DialplanCEP":            {"Context", "Exten"},
	"Timestamp":              {"Seconds", "Nanos"},
	"BridgeData":             {"ID", "Class", "Creator"},
	"Dial":                   {"Dialstatus", "Dialstring", "Forward"},
	"BridgeBlindTransfer":    {"Context", "Exten", "Result"},
	"BridgeAttendedTransfer": {"Result"},
	"ChannelVarset":          {"Value", "Variable"},
	"ChannelHangupRequest":   {"Cause"},
	"ChannelDestroyed":       {"Cause"},
	"ChannelDtmfReceived":    {"Digit"},
}
