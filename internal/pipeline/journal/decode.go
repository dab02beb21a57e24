package journal

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// decode decodes a payload of version 2: an event into ev (true), or a
// channel's description, which the codec keeps for the events after it
// (false). r, when not nil, gets what compaction needs. A payload that refers to a handle with no description
// before it is malformed; so is one whose description's note cannot hold
// the channels the event names (the encoder writes neither). The caller
// ends decoding with c.decoded.
func (c *codec) decode(payload []byte, ev *bridge.Event, r *rec) (bool, error) {
	d := decoder{p: payload}
	*ev = bridge.Event{}
	tag := d.byte()
	if tag == tagDesc || tag == tagRedesc {
		return false, c.decodeDesc(&d, tag == tagRedesc, r)
	}
	if tag == tagKind {
		if tag = d.byte(); tag < tagKind {
			d.err = errBad
		}
	}
	ev.Kind = bridge.Kind(tag)
	if ev.Kind != bridge.Snapshot {
		// One string holds the event's (one allocation per event); a
		// snapshot's get their own, so a call kept long after does not
		// keep the whole snapshot.
		d.s = string(payload)
	}
	m := d.uvarint()
	if m&^evAll != 0 {
		d.err = errBad
	}
	var chanDesc, peerDesc *described
	if m&evChannel != 0 {
		chanDesc = c.channel(&d, &ev.Channel)
	}
	if m&evTime != 0 {
		if chanDesc != nil {
			d.at, d.hasAt = chanDesc.at, chanDesc.hasAt()
		}
		ev.Time = d.time()
		d.hasAt = false
	}
	if m&evPeer != 0 {
		peerDesc = c.channel(&d, &ev.Peer)
	}
	ev.Bridge = d.stringIf(m & evBridge)
	ev.DialStatus = d.stringIf(m & evDialStatus)
	ev.Var = d.stringIf(m & evVar)
	ev.Value = d.stringIf(m & evValue)
	ev.DialString = d.stringIf(m & evDialString)
	ev.Forward = d.stringIf(m & evForward)
	ev.Conference = m&evConference != 0
	ev.Second = d.stringIf(m & evSecond)
	ev.Target = d.stringIf(m & evTarget)
	ev.Exten = d.stringIf(m & evExten)
	ev.Context = d.stringIf(m & evContext)
	if m&evCause != 0 {
		if ev.Cause = int(d.varint()); ev.Cause == 0 {
			d.err = errBad
		}
	}
	if m&evListed != 0 {
		if ev.Listed = d.time(); ev.Listed.IsZero() {
			d.err = errBad
		}
	}
	countAt := d.i
	var chans []chanRef
	if m&evChannels != 0 {
		chans = d.channels(ev, r != nil && ev.Kind == bridge.Snapshot)
	} else if ev.Kind == bridge.Snapshot {
		d.err = errBad
	}
	if d.err == nil && d.i != len(payload) {
		d.err = errBad
	}
	if d.err == nil && (chanDesc != nil || peerDesc != nil) && ev.Kind == bridge.Snapshot {
		d.err = errBad // a snapshot refers to nothing, so splicing it is safe
	}
	if d.err == nil && chanDesc == nil && ev.Channel.ID != "" && ev.Kind != bridge.Snapshot {
		d.err = errBad // its note would not name the channel
	}
	// The descriptions referred to note the channels the event names.
	for _, ref := range [...]struct {
		d  *described
		id string
	}{{chanDesc, ev.Channel.ID}, {peerDesc, ev.Peer.ID}} {
		if d.err == nil && ref.d != nil && !join(ref.d.refs, ref.id, ev) {
			d.err = errBad
		}
	}
	if d.err != nil {
		return true, d.err
	}
	if r != nil {
		nr := newRec(ev, chanDesc)
		if ev.Kind == bridge.Snapshot {
			nr.more.more().snap = &snapRec{count: countAt, chans: chans}
		}
		*r = nr
	}
	return true, nil
}

// decodeDesc reads a description (again: a delta from its handle's
// latest) and makes it its handle's latest, and its channel's.
func (c *codec) decodeDesc(d *decoder, again bool, r *rec) error {
	d.s = string(d.p)
	h := d.uvarint()
	if h > 1<<32-1 {
		d.err = errBad
	}
	var prev *decoded
	if again {
		if prev = c.byHandle[uint32(h)]; prev == nil {
			d.err = errBad
		} else {
			d.at, d.hasAt = prev.d.at, prev.d.hasAt()
		}
	}
	t := d.time()
	at, hasAt := milli(t)
	if d.err == nil && !t.IsZero() && !hasAt {
		d.err = errBad // the encoder gives no other time
	}
	d.at, d.hasAt = at, hasAt // the channel's times count from it
	var ch bridge.Channel
	if prev != nil {
		ch = prev.ch
	}
	d.delta(&ch, again)
	if d.err == nil && prev != nil && ch.ID != prev.d.id {
		d.err = errBad // described again under another id
	}
	if d.err == nil && d.i != len(d.p) {
		d.err = errBad
	}
	if d.err == nil && ch.ID == "" {
		d.err = errBad // a description is of a channel with an id
	}
	if d.err != nil {
		return d.err
	}
	if c.byHandle == nil {
		c.byHandle = map[uint32]*decoded{}
	}
	var ds *described
	if prev != nil {
		ds = prev.d // the note goes on
	} else {
		// The handle's channel before, if another, takes a new handle
		// when it is described again.
		if old := c.byHandle[uint32(h)]; old != nil && old.ch.ID != ch.ID && c.chans.get(old.ch.ID) == old.d {
			c.chans.del(old.ch.ID)
		}
		if ds = c.chans.get(ch.ID); ds == nil || ds.h != uint32(h) {
			ds = &described{h: uint32(h), id: ch.ID, at: noAt}
		}
		ds.refs = &recMore{desc: true}
	}
	c.chans.put(ds)
	ds.d = c.canonical(&ch)
	ds.setAt(at, hasAt)
	c.byHandle[uint32(h)] = &decoded{d: ds, ch: ch}
	if r != nil {
		*r = rec{ch: ds, more: ds.refs}
	}
	return nil
}

// channel reads Channel or Peer, and returns the description it refers
// to, if any.
func (c *codec) channel(d *decoder, ch *bridge.Channel) *described {
	switch d.byte() {
	case chFull:
		d.delta(ch, false)
		if d.err == nil && *ch == (bridge.Channel{}) {
			d.err = errBad // an empty channel is left out
		}
		return nil
	case chRef:
		h := d.uvarint()
		ds := c.byHandle[uint32(h)]
		if d.err == nil && (ds == nil || h > 1<<32-1) {
			d.err = errBad
		}
		if d.err != nil {
			return nil
		}
		*ch = ds.ch
		d.delta(ch, true)
		return ds.d
	}
	d.err = errBad
	return nil
}

// channels reads the channel list, noting each channel's bytes for
// compaction when note is set.
func (d *decoder) channels(ev *bridge.Event, note bool) []chanRef {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.p)-d.i)/2 { // a channel takes 2 bytes at least
		d.err = errBad
	}
	if d.err != nil || n == 0 {
		return nil
	}
	ev.Channels = make([]bridge.Channel, n)
	var chans []chanRef
	if note {
		chans = make([]chanRef, 0, n)
	}
	for i := range ev.Channels {
		at := d.i
		size := d.uvarint()
		if d.err == nil && size > uint64(len(d.p)-d.i) {
			d.err = errBad
		}
		if d.err != nil {
			return nil
		}
		end := d.i + int(size)
		d.delta(&ev.Channels[i], false)
		if d.err == nil && d.i != end {
			d.err = errBad
		}
		if d.err != nil {
			return nil
		}
		if note {
			chans = append(chans, chanRef{id: ev.Channels[i].ID, off: at, n: d.i - at})
		}
	}
	return chans
}

// delta applies a channel delta to ch. ref: ch is a description referred
// to by id, which the delta may not change.
func (d *decoder) delta(ch *bridge.Channel, ref bool) {
	m := d.uvarint()
	if m&^chAll != 0 || (ref && m&chID != 0) {
		d.err = errBad
	}
	if m&chID != 0 {
		ch.ID = d.string()
	}
	if m&chName != 0 {
		ch.Name = d.string()
	}
	if m&chEndpoint != 0 {
		ch.Endpoint = d.string()
	}
	if m&chLinkedID != 0 {
		ch.LinkedID = d.string()
	}
	if m&chState != 0 {
		ch.State = bridge.ChannelState(d.byte())
	}
	if m&chCallerNumber != 0 {
		ch.CallerNumber = d.string()
	}
	if m&chCallerName != 0 {
		ch.CallerName = d.string()
	}
	if m&chConnectedNumber != 0 {
		ch.ConnectedNumber = d.string()
	}
	if m&chConnectedName != 0 {
		ch.ConnectedName = d.string()
	}
	if m&chExten != 0 {
		ch.Exten = d.string()
	}
	if m&chContext != 0 {
		ch.Context = d.string()
	}
	if m&chApp != 0 {
		ch.App = d.string()
	}
	if m&chCreated != 0 {
		ch.Created = d.time()
	}
	if m&chBridge != 0 {
		ch.Bridge = d.string()
	}
	if m&chBridged != 0 {
		ch.Bridged = d.time()
	}
	if m&chConference != 0 {
		ch.Conference = !ch.Conference
	}
}

// decoder reads one payload. Strings are cut from s, a string holding the
// payload, when it is set; otherwise each is copied.
type decoder struct {
	p   []byte
	s   string
	i   int
	err error
	v1  bool // the time tags of version 1 only
	// at is the time a timeSince counts from, when hasAt.
	at    int64
	hasAt bool
}

func (d *decoder) stringIf(bit uint64) string {
	if bit == 0 {
		return ""
	}
	if s := d.string(); s != "" || d.err != nil {
		return s
	}
	d.err = errBad // an empty string is left out
	return ""
}

func (d *decoder) byte() byte {
	if d.err != nil || d.i >= len(d.p) {
		d.err = errBad
		return 0
	}
	d.i++
	return d.p[d.i-1]
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.err = errBad
	return false
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p[d.i:])
	if n <= 0 {
		d.err = errBad
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p[d.i:])
	if n <= 0 {
		d.err = errBad
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.p)-d.i) {
		d.err = errBad
		return ""
	}
	start := d.i
	d.i += int(n)
	if n == 0 {
		return ""
	}
	if d.s != "" {
		return d.s[start:d.i]
	}
	return string(d.p[start:d.i])
}

func (d *decoder) time() time.Time {
	var off int64
	tag := d.byte()
	if d.v1 && tag > timeOffset {
		d.err = errBad
	}
	switch tag {
	case timeZero:
		return time.Time{}
	case timeUTC, timeUTCMilli, timeSince:
	case timeOffset, timeOffMilli:
		off = d.varint()
		if off == 0 || off < -24*3600 || off > 24*3600 {
			d.err = errBad
		}
	default:
		d.err = errBad
	}
	var sec, nsec int64
	if tag == timeSince {
		if !d.hasAt {
			d.err = errBad
		}
		ms := d.varint()
		if ms <= -milliRange || ms >= milliRange {
			d.err = errBad
		}
		sec, nsec = splitMilli(d.at + ms)
	} else if tag == timeUTCMilli || tag == timeOffMilli {
		sec, nsec = splitMilli(d.varint())
		if sec <= -milliRange || sec >= milliRange {
			d.err = errBad
		}
	} else {
		sec = d.varint()
		u := d.uvarint()
		if u >= 1e9 {
			d.err = errBad
		}
		nsec = int64(u)
	}
	if d.err != nil {
		return time.Time{}
	}
	t := time.Unix(sec, nsec)
	if off == 0 {
		t = t.UTC()
	} else if _, local := t.Zone(); int64(local) != off {
		t = t.In(fixedZone(int(off)))
	}
	if t.IsZero() {
		d.err = errBad // the zero time has its own tag
	}
	return t
}

func splitMilli(ms int64) (sec, nsec int64) {
	sec, nsec = ms/1000, ms%1000*1e6
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return sec, nsec
}

// zones shares one fixed zone per offset between decoded times.
var zones sync.Map // int -> *time.Location

func fixedZone(off int) *time.Location {
	if z, ok := zones.Load(off); ok {
		return z.(*time.Location)
	}
	z, _ := zones.LoadOrStore(off, time.FixedZone("", off))
	return z.(*time.Location)
}
