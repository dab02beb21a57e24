package journal

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"

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
// A description's: tagDesc, the uvarint handle the events refer to it by,
// its time (the time of the event it was written for, when that is UTC in
// whole milliseconds, else the zero time), then the channel as a delta
// from the empty channel, its times from the description's (timeSince).
// A description again (tagRedesc) of a channel described before, with its
// handle, gives its time from the one before's and the channel as a delta
// from it; the journal notes both with one note, so that compaction keeps
// both or neither. A channel delta is a uvarint of which fields follow
// (the ch* bits) and those fields; Conference flips.
//
// A handle stands for its channel from its description on; a channel
// described again keeps its handle, and one no longer open gives its
// handle up after a compaction, for another channel to take. An event
// refers to the latest description with the handle before it, which is
// what record.go's reasoning needs of it.
const (
	tagKind   = 0xfd
	tagRedesc = 0xfe
	tagDesc   = 0xff
)

// Which fields of an event follow, the usual ones in the first byte.
// Channel comes before Time: the time may be given from the channel's
// description's (timeSince).
const (
	evChannel = 1 << iota
	evTime
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
// channel), or as a reference: the handle, then a delta from the
// description.
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
	chans chanSet
	free  []uint32 // handles no channel in chans has
	next  uint32   // the least handle not given yet
	// byHandle is, while records are decoded, each handle's latest
	// description.
	byHandle map[uint32]*decoded
	// words are what the descriptions in memory share (canon.go); kept
	// through resets, as descriptions may still use them.
	words wordList
}

// described is a channel's latest description in the file: what the
// encoder compares the channel's next events with. It is kept small, as
// there is one per open channel.
type described struct {
	// refs is the description's note (rec.more): the channels other than
	// this one that the events referring to it name.
	refs *recMore
	d    string // the channel, as the description has it, but for its id: in canon.go's form
	// at is the description's time, in Unix milliseconds, or noAt: it
	// has none that an event's may be given from.
	at int64
	h  uint32
	// slot is where the description's plain note (itself, no other
	// channel) was last put in a notes' table (notes.add checks it).
	slot uint32
	id   string
	// last is the recMore of the channel's latest event that named
	// others, for the next to share.
	last *recMore
}

// noAt: a description without a time in milliseconds (milli gives none
// so far from 1970).
const noAt = math.MinInt64

func (d *described) hasAt() bool { return d.at != noAt }

func (d *described) setAt(at int64, ok bool) {
	if !ok {
		at = noAt
	}
	d.at = at
}

// decoded is a description as decoding needs it.
type decoded struct {
	d  *described
	ch bridge.Channel
}

// reset forgets every description: the file is empty, or its end is not
// known to be what the codec wrote.
func (c *codec) reset() {
	c.chans.reset()
	c.free, c.next, c.byHandle = c.free[:0], 0, nil
}

// forget drops the channels open does not approve after a compaction
// (their descriptions may be gone), their handles given up.
func (c *codec) forget(open func(string) bool) {
	c.chans.keep(func(d *described) bool {
		if !open(d.id) {
			c.free = append(c.free, d.h)
			return false
		}
		return true
	})
	// The table's order is its hash's, seeded per process: in handle
	// order instead, so that the same events make the same file in every
	// run (handle gives the least first).
	slices.SortFunc(c.free, func(a, b uint32) int { return cmp.Compare(b, a) })
}

// decoded ends decoding: the handles the channels have are kept, the
// rest may be given again (an event written from now on refers only to a
// description written after the one it replaces).
func (c *codec) decoded() {
	c.byHandle, c.free, c.next = nil, c.free[:0], 0
	c.chans.each(func(d *described) { c.next = max(c.next, d.h+1) })
}

func (c *codec) handle() uint32 {
	if n := len(c.free); n > 0 {
		h := c.free[n-1]
		c.free = c.free[:n-1]
		return h
	}
	c.next++
	return c.next - 1
}

// encode appends ev's record to b, after the descriptions of its channels
// it needs, and the records' notes to recs.
func (c *codec) encode(b []byte, ev *bridge.Event, recs []rec) ([]byte, []rec) {
	var chanDesc, peerDesc *described
	var chanDiff, peerDiff uint64
	if ev.Kind != bridge.Snapshot {
		b, recs, chanDesc, chanDiff = c.describe(b, recs, &ev.Channel, ev)
		if ev.Peer.ID != ev.Channel.ID {
			b, recs, peerDesc, peerDiff = c.describe(b, recs, &ev.Peer, ev)
		}
	}
	start := len(b)
	b = append(b, 0) // the length, most often one byte
	p := len(b)
	r := newRec(ev, chanDesc)
	if ev.Kind >= tagKind {
		b = append(b, tagKind)
	}
	b = append(b, byte(ev.Kind))
	m := fields(ev)
	b = binary.AppendUvarint(b, m)
	if m&evChannel != 0 {
		b = appendChannel(b, &ev.Channel, chanDesc, chanDiff)
	}
	if m&evTime != 0 {
		b = appendTimeFrom(b, ev.Time, chanDesc)
	}
	if m&evPeer != 0 {
		b = appendChannel(b, &ev.Peer, peerDesc, peerDiff)
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
			r.more.more().snap = snap
		}
		b = binary.AppendUvarint(b, uint64(len(ev.Channels)))
		for i := range ev.Channels {
			// Each channel length-prefixed, so compaction can splice them.
			at := len(b)
			full, n := diff("", nil, &ev.Channels[i])
			b = binary.AppendUvarint(b, uint64(n))
			b = appendDelta(b, full, &ev.Channels[i], nil)
			if snap != nil {
				snap.chans[i] = chanRef{id: ev.Channels[i].ID, off: at - p, n: len(b) - at}
			}
		}
	}
	b = closeRecord(b, start)
	return b, append(recs, r)
}

// closeRecord writes the length of the record that starts at start, its
// payload after the byte left for it, moving the payload on if the length
// takes more.
func closeRecord(b []byte, start int) []byte {
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	extra := uvarintLen(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[start+1+extra:], b[start+1:start+1+n])
	binary.PutUvarint(b[start:], uint64(n))
	return b
}

// describe returns the description ev's channel ch is to refer to, and
// which fields differ from it, appending a new one to b when there is
// none, when the delta from it would be long, or when its note cannot
// hold ev's other channels. nil: ch is given in full (it has no id).
func (c *codec) describe(b []byte, recs []rec, ch *bridge.Channel, ev *bridge.Event) ([]byte, []rec, *described, uint64) {
	if ch.ID == "" {
		return b, recs, nil, 0
	}
	d := c.chans.get(ch.ID)
	var m uint64
	tag := byte(tagDesc)
	if d != nil {
		var n int
		m, n = diff(d.d, &c.words, ch)
		// d.d has no id: the channel's is d's.
		m, n = m&^chID, n-uvarintLen(uint64(len(ch.ID)))-len(ch.ID)
		if n <= redescribe && join(d.refs, ch.ID, ev) {
			return b, recs, d, m
		}
		if join(d.refs, ch.ID, ev) {
			// Described again as a delta from the description before,
			// which shares its note, so that both are kept together.
			tag = tagRedesc
		} else {
			d.refs = &recMore{desc: true}
		}
	} else {
		d = &described{h: c.handle(), id: ch.ID, at: noAt, refs: &recMore{desc: true}}
		c.chans.put(d)
	}
	if tag == tagDesc {
		m, _ = diff("", nil, ch)
		join(d.refs, ch.ID, ev) // an event names four channels at most: three others fit
	}
	start := len(b)
	b = append(b, 0, tag)
	b = binary.AppendUvarint(b, uint64(d.h))
	at, hasAt := milli(ev.Time)
	if !hasAt {
		b = append(b, timeZero)
	} else if tag == tagRedesc && d.hasAt() {
		b = appendSince(b, ev.Time, at, d.at)
	} else {
		b = appendTime(b, ev.Time)
	}
	d.setAt(at, hasAt)
	b = appendDelta(b, m, ch, d)
	b = closeRecord(b, start)
	// What the next events are compared with: the channel in full, its
	// times as they are.
	d.d = c.canonical(ch)
	return b, append(recs, rec{ch: d, more: d.refs}), d, 0
}

// join notes in a description's note that an event referring to it names
// ev's channels, and reports whether the note could hold them.
func join(refs *recMore, self string, ev *bridge.Event) bool {
	if ev.Peer.ID == "" && ev.Second == "" && ev.Target == "" && (ev.Channel.ID == self || ev.Channel.ID == "") {
		return true // most events name their channel only
	}
	ids := refs.idList()
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
	refs.setIDs(ids)
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
