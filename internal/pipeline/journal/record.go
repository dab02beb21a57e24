package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sync"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// The file format (version 1). A file starts with header; each record
// after it is one event:
//
//	uint32 LE  length of the payload
//	uint32 LE  CRC-32C of the payload
//	payload    the event's fields in the order of bridge.Event, strings
//	           and counts as uvarints before their bytes, times as below,
//	           the snapshot's channels last
//
// A length prefix makes appending one copy into a buffer and replaying a
// walk over it; the checksum tells a record whole from one a machine
// crash left half on disk. Keeping the channels last, each length
// prefixed, lets compaction drop a snapshot's finished channels by
// splicing bytes, without decoding the rest.
const (
	version  = 1
	frameLen = 8 // length and checksum
)

// header is the first bytes of every journal in this format: a JSON
// journal (the format before version 1) starts with '{'.
var header = [8]byte{'C', 'B', 'J', 'R', 'N', 'L', 0, version}

// maxRecord bounds one journaled event (a snapshot of thousands of
// channels fits many times over); a longer length is damage.
const maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errShort is a record cut off by the end of the data.
var errShort = errors.New("record cut short")

// rec is what the journal keeps in memory about one record in the file:
// its size and what compaction needs to decide about it, so that
// compaction never decodes a record again. It is kept small (32 bytes on
// 64-bit machines, the id's bytes shared with the event's): there is one
// per journaled event of every open call. Where a record is in the file
// follows from the sizes of those before it: the records are the file's,
// in order, after the header.
type rec struct {
	id string // the channel the event is about
	// more is the rest, when there is any: most events name no other
	// channel and are no snapshot.
	more *recMore
	n    uint32 // frame and payload
}

// recMore is what few records have.
type recMore struct {
	ids  [3]string // the other channels the event names: Peer, Second, Target
	snap *snapRec  // a snapshot's
}

func (r *rec) snap() *snapRec {
	if r.more == nil {
		return nil
	}
	return r.more.snap
}

// snapRec is what compaction needs of a snapshot: where the channel count
// starts in the payload, and each channel's id and bytes (its length
// prefix included).
type snapRec struct {
	count int
	chans []chanRef
}

// newRec notes the channels ev names.
func newRec(ev *bridge.Event) rec {
	r := rec{id: ev.Channel.ID}
	if ev.Peer.ID != "" || ev.Second != "" || ev.Target != "" || ev.Kind == bridge.Snapshot {
		r.more = &recMore{ids: [3]string{ev.Peer.ID, ev.Second, ev.Target}}
	}
	return r
}

type chanRef struct {
	id     string
	off, n int // in the payload
}

// appendRecord appends ev's frame to b and returns it with ev's rec.
func appendRecord(b []byte, ev *bridge.Event) ([]byte, rec) {
	start := len(b)
	b = append(b, make([]byte, frameLen)...)
	p := start + frameLen
	r := newRec(ev)
	b = append(b, byte(ev.Kind))
	b = appendTime(b, ev.Time)
	b = appendChannel(b, &ev.Channel)
	b = appendChannel(b, &ev.Peer)
	b = appendString(b, ev.DialStatus)
	b = appendString(b, ev.DialString)
	b = appendString(b, ev.Forward)
	b = appendString(b, ev.Bridge)
	b = appendBool(b, ev.Conference)
	b = appendString(b, ev.Second)
	b = appendString(b, ev.Target)
	b = appendString(b, ev.Exten)
	b = appendString(b, ev.Context)
	b = appendString(b, ev.Var)
	b = appendString(b, ev.Value)
	b = binary.AppendVarint(b, int64(ev.Cause))
	b = appendTime(b, ev.Listed)
	var snap *snapRec
	if ev.Kind == bridge.Snapshot {
		snap = &snapRec{count: len(b) - p, chans: make([]chanRef, len(ev.Channels))}
		r.more.snap = snap
	}
	b = binary.AppendUvarint(b, uint64(len(ev.Channels)))
	for i := range ev.Channels {
		// Each channel length-prefixed, so compaction can splice them.
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		b = appendChannel(b, &ev.Channels[i])
		binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
		if snap != nil {
			snap.chans[i] = chanRef{id: ev.Channels[i].ID, off: at - p, n: len(b) - at}
		}
	}
	seal(b[start:])
	r.n = uint32(len(b) - start)
	return b, r
}

// seal writes the frame's length and checksum for the payload after it.
func seal(frame []byte) {
	payload := frame[frameLen:]
	binary.LittleEndian.PutUint32(frame, uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(payload, castagnoli))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Time flags: what a time decodes to is what a JSON journal gave (an
// RFC 3339 offset of zero is UTC; another offset is the local zone when it
// has that offset then, else a fixed zone), so the engine sees the same.
const (
	timeZero   = 0
	timeUTC    = 1
	timeOffset = 2
)

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	_, off := t.Zone()
	if off == 0 {
		b = append(b, timeUTC)
	} else {
		b = append(b, timeOffset)
		b = binary.AppendVarint(b, int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendChannel(b []byte, c *bridge.Channel) []byte {
	if *c == (bridge.Channel{}) {
		return append(b, 0) // most events have no peer
	}
	b = append(b, 1)
	b = appendString(b, c.ID)
	b = appendString(b, c.Name)
	b = appendString(b, c.Endpoint)
	b = appendString(b, c.LinkedID)
	b = append(b, byte(c.State))
	b = appendString(b, c.CallerNumber)
	b = appendString(b, c.CallerName)
	b = appendString(b, c.ConnectedNumber)
	b = appendString(b, c.ConnectedName)
	b = appendString(b, c.Exten)
	b = appendString(b, c.Context)
	b = appendString(b, c.App)
	b = appendTime(b, c.Created)
	b = appendString(b, c.Bridge)
	b = appendTime(b, c.Bridged)
	return appendBool(b, c.Conference)
}

// frameAt reads the frame at the start of b: the payload, and the frame's
// whole length. errShort: b ends before the frame does.
func frameAt(b []byte) (payload []byte, n int, err error) {
	if len(b) < frameLen {
		return nil, 0, errShort
	}
	size := binary.LittleEndian.Uint32(b)
	if size > maxRecord {
		return nil, 0, errors.New("record too long")
	}
	if len(b)-frameLen < int(size) {
		return nil, 0, errShort
	}
	payload = b[frameLen : frameLen+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, errors.New("checksum mismatch")
	}
	return payload, frameLen + int(size), nil
}

// decoder reads one payload. Strings of an ordinary event are cut from one
// string holding the payload (one allocation per event); a snapshot's get
// their own, so a call kept long after does not keep the whole snapshot.
type decoder struct {
	p   []byte
	s   string // p as a string, or "" to copy each
	i   int
	err error
}

var errBad = errors.New("malformed record")

// decodeRecord decodes payload into ev and, if r is not nil, fills in what
// compaction needs (r.n is the caller's).
func decodeRecord(payload []byte, ev *bridge.Event, r *rec) error {
	d := decoder{p: payload}
	*ev = bridge.Event{}
	if len(payload) > 0 && bridge.Kind(payload[0]) != bridge.Snapshot {
		d.s = string(payload)
	}
	ev.Kind = bridge.Kind(d.byte())
	ev.Time = d.time()
	d.channel(&ev.Channel)
	d.channel(&ev.Peer)
	ev.DialStatus = d.string()
	ev.DialString = d.string()
	ev.Forward = d.string()
	ev.Bridge = d.string()
	ev.Conference = d.bool()
	ev.Second = d.string()
	ev.Target = d.string()
	ev.Exten = d.string()
	ev.Context = d.string()
	ev.Var = d.string()
	ev.Value = d.string()
	ev.Cause = int(d.varint())
	ev.Listed = d.time()
	countAt := d.i
	n := d.uvarint()
	if d.err == nil && n > uint64(len(payload)-d.i)/5 { // a channel takes 5 bytes at least
		d.err = errBad
	}
	if d.err == nil && n > 0 {
		ev.Channels = make([]bridge.Channel, n)
	}
	var chans []chanRef
	if r != nil && ev.Kind == bridge.Snapshot && d.err == nil {
		chans = make([]chanRef, 0, n)
	}
	for i := range ev.Channels {
		at := d.i
		size := d.fixed32()
		end := d.i + int(size)
		d.channel(&ev.Channels[i])
		if d.err == nil && d.i != end {
			d.err = errBad
		}
		if d.err != nil {
			break
		}
		if chans != nil {
			chans = append(chans, chanRef{id: ev.Channels[i].ID, off: at, n: d.i - at})
		}
	}
	if d.err == nil && d.i != len(payload) {
		d.err = errBad
	}
	if d.err != nil {
		return d.err
	}
	if r != nil {
		nr := newRec(ev)
		nr.n = r.n
		if ev.Kind == bridge.Snapshot {
			nr.more.snap = &snapRec{count: countAt, chans: chans}
		}
		*r = nr
	}
	return nil
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

func (d *decoder) fixed32() uint32 {
	if d.err != nil || len(d.p)-d.i < 4 {
		d.err = errBad
		return 0
	}
	v := binary.LittleEndian.Uint32(d.p[d.i:])
	d.i += 4
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
	switch d.byte() {
	case timeZero:
		return time.Time{}
	case timeUTC:
	case timeOffset:
		off = d.varint()
		if off == 0 || off < -24*3600 || off > 24*3600 {
			d.err = errBad
		}
	default:
		d.err = errBad
	}
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil || nsec >= 1e9 {
		d.err = errBad
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		t = t.UTC()
	} else if _, local := t.Zone(); int64(local) != off {
		t = t.In(fixedZone(int(off)))
	}
	if t.IsZero() {
		d.err = errBad // the zero time has its own flag
	}
	return t
}

func (d *decoder) channel(c *bridge.Channel) {
	switch d.byte() {
	case 0:
		return
	case 1:
	default:
		d.err = errBad
		return
	}
	c.ID = d.string()
	c.Name = d.string()
	c.Endpoint = d.string()
	c.LinkedID = d.string()
	c.State = bridge.ChannelState(d.byte())
	c.CallerNumber = d.string()
	c.CallerName = d.string()
	c.ConnectedNumber = d.string()
	c.ConnectedName = d.string()
	c.Exten = d.string()
	c.Context = d.string()
	c.App = d.string()
	c.Created = d.time()
	c.Bridge = d.string()
	c.Bridged = d.time()
	c.Conference = d.bool()
	if d.err == nil && *c == (bridge.Channel{}) {
		d.err = errBad // the empty channel has its own flag
	}
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
