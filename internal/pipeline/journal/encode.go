package journal

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// The payloads of version 2 (record.go has the frame). An event's:
//
//	byte     its kind (tagKind and the kind, for a kind of tagKind or more)
//	uvarint  which fields follow (the ev* bits), in the order of the bits;
//	         an absent field is the zero value
//	fields   strings and counts as uvarints before their bytes, times as
//	         below; Channel and Peer as a channel tag (chFull, chRef)
//	         then a channel delta; Conference has no bytes (its bit is
//	         the value); the channel list last, each channel as a uvarint
//	         length then a delta from the empty channel
//
// A description's: tagDesc, then the channel as a delta from the empty
// channel. A channel delta is a uvarint of which fields follow (the ch*
// bits) and those fields; Conference flips.
const (
	tagKind = 0xfe
	tagDesc = 0xff
)

// Which fields of an event follow, the usual ones in the first byte.
const (
	evTime = 1 << iota
	evChannel
	evPeer
	evBridge
	evDialStatus
	evVar
	evValue
	evDialString
	evForward
	evConference
	evSecond
	evTarget
	evExten
	evContext
	evCause
	evListed
	evChannels
	evAll = 1<<iota - 1
)

// Which fields of a channel follow.
const (
	chID = 1 << iota
	chName
	chEndpoint
	chLinkedID
	chState
	chCallerNumber
	chCallerName
	chConnectedNumber
	chConnectedName
	chExten
	chContext
	chApp
	chCreated
	chBridge
	chBridged
	chConference
	chAll = 1<<iota - 1
)

// How an event gives Channel or Peer: in full (a delta from the empty
// channel), or as a reference: the id, then a delta from the latest
// description of that id.
const (
	chFull = 1
	chRef  = 2
)

// redescribe: a channel whose delta from its description would take more
// bytes than this is described again.
const redescribe = 16

// codec is what encoding and decoding need to know of the file so far:
// per channel, its latest description. It is not safe for concurrent use.
type codec struct {
	chans map[string]*described
}

// described is a channel's latest description in the file.
type described struct {
	ch bridge.Channel
	// refs is the description's note (rec.more): the channels other than
	// this one that the events referring to it name.
	refs *recMore
}

func (c *codec) reset() { clear(c.chans) }

// encode appends ev's record to b, after the descriptions of its channels
// it needs, and the records' notes to recs.
func (c *codec) encode(b []byte, ev *bridge.Event, recs []rec) ([]byte, []rec) {
	var chanDesc, peerDesc *described
	if ev.Kind != bridge.Snapshot {
		b, recs, chanDesc = c.describe(b, recs, &ev.Channel, ev)
		if ev.Peer.ID != ev.Channel.ID {
			b, recs, peerDesc = c.describe(b, recs, &ev.Peer, ev)
		}
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // the frame
	p := len(b)
	r := newRec(ev)
	if ev.Kind >= tagKind {
		b = append(b, tagKind)
	}
	b = append(b, byte(ev.Kind))
	m := fields(ev)
	b = binary.AppendUvarint(b, m)
	if m&evTime != 0 {
		b = appendTime(b, ev.Time)
	}
	if m&evChannel != 0 {
		b = appendChannel(b, &ev.Channel, chanDesc)
	}
	if m&evPeer != 0 {
		b = appendChannel(b, &ev.Peer, peerDesc)
	}
	b = appendIf(b, m&evBridge, ev.Bridge)
	b = appendIf(b, m&evDialStatus, ev.DialStatus)
	b = appendIf(b, m&evVar, ev.Var)
	b = appendIf(b, m&evValue, ev.Value)
	b = appendIf(b, m&evDialString, ev.DialString)
	b = appendIf(b, m&evForward, ev.Forward)
	b = appendIf(b, m&evSecond, ev.Second)
	b = appendIf(b, m&evTarget, ev.Target)
	b = appendIf(b, m&evExten, ev.Exten)
	b = appendIf(b, m&evContext, ev.Context)
	if m&evCause != 0 {
		b = binary.AppendVarint(b, int64(ev.Cause))
	}
	if m&evListed != 0 {
		b = appendTime(b, ev.Listed)
	}
	if m&evChannels != 0 {
		var snap *snapRec
		if ev.Kind == bridge.Snapshot {
			snap = &snapRec{count: len(b) - p, chans: make([]chanRef, len(ev.Channels))}
			r.more.snap = snap
		}
		b = binary.AppendUvarint(b, uint64(len(ev.Channels)))
		var zero bridge.Channel
		for i := range ev.Channels {
			// Each channel length-prefixed, so compaction can splice them.
			at := len(b)
			b = binary.AppendUvarint(b, uint64(deltaLen(&zero, &ev.Channels[i])))
			b = appendDelta(b, &zero, &ev.Channels[i])
			if snap != nil {
				snap.chans[i] = chanRef{id: ev.Channels[i].ID, off: at - p, n: len(b) - at}
			}
		}
	}
	seal(b[start:])
	r.n = uint32(len(b) - start)
	return b, append(recs, r)
}

// describe returns the description ev's channel ch is to refer to,
// appending a new one to b when there is none, when the delta from it
// would be long, or when its note cannot hold ev's other channels. nil:
// ch is given in full (it has no id).
func (c *codec) describe(b []byte, recs []rec, ch *bridge.Channel, ev *bridge.Event) ([]byte, []rec, *described) {
	if ch.ID == "" {
		return b, recs, nil
	}
	d := c.chans[ch.ID]
	if d != nil && deltaLen(&d.ch, ch) <= redescribe && d.join(ch.ID, ev) {
		return b, recs, d
	}
	if d == nil {
		if c.chans == nil {
			c.chans = map[string]*described{}
		}
		d = &described{}
		c.chans[ch.ID] = d
	}
	d.ch, d.refs = *ch, &recMore{desc: true}
	d.join(ch.ID, ev) // an event names four channels at most: three others fit
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, tagDesc)
	b = appendDelta(b, &bridge.Channel{}, ch)
	seal(b[start:])
	return b, append(recs, rec{id: ch.ID, more: d.refs, n: uint32(len(b) - start)}), d
}

// join notes in the description that an event referring to it names ev's
// channels, and reports whether its note could hold them.
func (d *described) join(self string, ev *bridge.Event) bool {
	ids := d.refs.ids
	for _, id := range [...]string{ev.Channel.ID, ev.Peer.ID, ev.Second, ev.Target} {
		if id == "" || id == self || slices.Contains(ids[:], id) {
			continue
		}
		i := slices.Index(ids[:], "")
		if i < 0 {
			return false
		}
		ids[i] = id
	}
	d.refs.ids = ids
	return true
}

// fields is which of ev's fields its record carries.
func fields(ev *bridge.Event) uint64 {
	var m uint64
	set := func(bit uint64, on bool) {
		if on {
			m |= bit
		}
	}
	set(evTime, !ev.Time.IsZero())
	set(evChannel, ev.Channel != bridge.Channel{})
	set(evPeer, ev.Peer != bridge.Channel{})
	set(evBridge, ev.Bridge != "")
	set(evDialStatus, ev.DialStatus != "")
	set(evVar, ev.Var != "")
	set(evValue, ev.Value != "")
	set(evDialString, ev.DialString != "")
	set(evForward, ev.Forward != "")
	set(evConference, ev.Conference)
	set(evSecond, ev.Second != "")
	set(evTarget, ev.Target != "")
	set(evExten, ev.Exten != "")
	set(evContext, ev.Context != "")
	set(evCause, ev.Cause != 0)
	set(evListed, !ev.Listed.IsZero())
	set(evChannels, len(ev.Channels) > 0 || ev.Kind == bridge.Snapshot)
	return m
}

func appendIf(b []byte, bit uint64, s string) []byte {
	if bit == 0 {
		return b
	}
	return appendString(b, s)
}

func appendChannel(b []byte, ch *bridge.Channel, d *described) []byte {
	if d == nil {
		b = append(b, chFull)
		return appendDelta(b, &bridge.Channel{}, ch)
	}
	b = append(b, chRef)
	b = appendString(b, ch.ID)
	return appendDelta(b, &d.ch, ch)
}

// diff is which fields of ch differ from base's, as a replay would see
// them (times by instant and offset, see appendTime).
func diff(base, ch *bridge.Channel) uint64 {
	var m uint64
	set := func(bit uint64, on bool) {
		if on {
			m |= bit
		}
	}
	set(chID, ch.ID != base.ID)
	set(chName, ch.Name != base.Name)
	set(chEndpoint, ch.Endpoint != base.Endpoint)
	set(chLinkedID, ch.LinkedID != base.LinkedID)
	set(chState, ch.State != base.State)
	set(chCallerNumber, ch.CallerNumber != base.CallerNumber)
	set(chCallerName, ch.CallerName != base.CallerName)
	set(chConnectedNumber, ch.ConnectedNumber != base.ConnectedNumber)
	set(chConnectedName, ch.ConnectedName != base.ConnectedName)
	set(chExten, ch.Exten != base.Exten)
	set(chContext, ch.Context != base.Context)
	set(chApp, ch.App != base.App)
	set(chCreated, !sameTime(ch.Created, base.Created))
	set(chBridge, ch.Bridge != base.Bridge)
	set(chBridged, !sameTime(ch.Bridged, base.Bridged))
	set(chConference, ch.Conference != base.Conference)
	return m
}

// sameTime: a and b are recorded alike.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	_, ao := a.Zone()
	_, bo := b.Zone()
	return ao == bo && a.Unix() == b.Unix() && a.Nanosecond() == b.Nanosecond()
}

// appendDelta appends ch as a delta from base.
func appendDelta(b []byte, base, ch *bridge.Channel) []byte {
	m := diff(base, ch)
	b = binary.AppendUvarint(b, m)
	b = appendIf(b, m&chID, ch.ID)
	b = appendIf(b, m&chName, ch.Name)
	b = appendIf(b, m&chEndpoint, ch.Endpoint)
	b = appendIf(b, m&chLinkedID, ch.LinkedID)
	if m&chState != 0 {
		b = append(b, byte(ch.State))
	}
	b = appendIf(b, m&chCallerNumber, ch.CallerNumber)
	b = appendIf(b, m&chCallerName, ch.CallerName)
	b = appendIf(b, m&chConnectedNumber, ch.ConnectedNumber)
	b = appendIf(b, m&chConnectedName, ch.ConnectedName)
	b = appendIf(b, m&chExten, ch.Exten)
	b = appendIf(b, m&chContext, ch.Context)
	b = appendIf(b, m&chApp, ch.App)
	if m&chCreated != 0 {
		b = appendTime(b, ch.Created)
	}
	b = appendIf(b, m&chBridge, ch.Bridge)
	if m&chBridged != 0 {
		b = appendTime(b, ch.Bridged)
	}
	return b
}

// deltaLen is the length of appendDelta's bytes.
func deltaLen(base, ch *bridge.Channel) int {
	m := diff(base, ch)
	n := uvarintLen(m)
	str := func(bit uint64, s string) {
		if m&bit != 0 {
			n += uvarintLen(uint64(len(s))) + len(s)
		}
	}
	str(chID, ch.ID)
	str(chName, ch.Name)
	str(chEndpoint, ch.Endpoint)
	str(chLinkedID, ch.LinkedID)
	if m&chState != 0 {
		n++
	}
	str(chCallerNumber, ch.CallerNumber)
	str(chCallerName, ch.CallerName)
	str(chConnectedNumber, ch.ConnectedNumber)
	str(chConnectedName, ch.ConnectedName)
	str(chExten, ch.Exten)
	str(chContext, ch.Context)
	str(chApp, ch.App)
	if m&chCreated != 0 {
		n += timeLen(ch.Created)
	}
	str(chBridge, ch.Bridge)
	if m&chBridged != 0 {
		n += timeLen(ch.Bridged)
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Time tags: what a time decodes to is what a JSON journal gave (an
// RFC 3339 offset of zero is UTC; another offset is the local zone when it
// has that offset then, else a fixed zone), so the engine sees the same.
// A time in whole milliseconds, as a PBX reports them, is given in those.
const (
	timeZero     = 0
	timeUTC      = 1 // seconds and nanoseconds
	timeOffset   = 2 // the offset, seconds and nanoseconds
	timeUTCMilli = 3 // milliseconds
	timeOffMilli = 4 // the offset, milliseconds
)

// milliRange bounds the seconds given in milliseconds, far from overflow.
const milliRange = 1 << 50

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	_, off := t.Zone()
	sec, ns := t.Unix(), int64(t.Nanosecond())
	milli := ns%1e6 == 0 && sec > -milliRange && sec < milliRange
	tag := byte(timeUTC)
	if off != 0 {
		tag = timeOffset
	}
	if milli {
		tag += 2
	}
	b = append(b, tag)
	if off != 0 {
		b = binary.AppendVarint(b, int64(off))
	}
	if milli {
		return binary.AppendVarint(b, sec*1000+ns/1e6)
	}
	b = binary.AppendVarint(b, sec)
	return binary.AppendUvarint(b, uint64(ns))
}

func timeLen(t time.Time) int {
	var buf [32]byte
	return len(appendTime(buf[:0], t))
}
