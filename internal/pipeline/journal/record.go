package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/callbridge/callbridge/bridge"
)

// The file format (version 2). A file starts with header; after it come
// batches of records, each batch a frame:
//
//	uint32 LE  length of the payload
//	uint32 LE  CRC-32C of the payload
//	payload    records, each a uvarint length and the record: an event,
//	           or the description of a channel (encode.go)
//
// A batch is what one Flush wrote (or a part of it, up to batchMax), or
// what a compaction copied. Length prefixes make appending one copy into
// a buffer and replaying a walk over it; the checksum tells a batch whole
// from one a machine crash left half on disk. A record's own length takes
// a byte, most often; the frame's eight are shared by the batch.
//
// A call's events describe its channels over and over with little
// changed: the same id, name, numbers, context and creation time. So a
// channel is described in full once, in a description record of its own
// that is not an event (the engine is not fed it), under a small number,
// its handle. An event then names the channel by handle and gives only
// the fields that differ from the latest description with that handle
// before it in the file. A channel is described again when the fields
// that differ have grown long: as a delta from its description before,
// with the same handle and the same note (below). When an event would
// name more channels than the description's note can hold, the channel is
// described in full again, with a note of its own.
//
// Why every reference still resolves after a compaction. Compaction keeps
// an event while any channel it names is open, and a description while
// any channel its note names is open. The note names the described
// channel and the channels named by every event referring to the
// description (up to three more), and a description written as a delta
// shares its note with the one it is a delta from. So whenever compaction
// keeps an event, it keeps the description the event refers to, and the
// ones that description depends on. Compaction keeps the order. No
// description with the handle lies between an event and the one it
// refers to (it refers to the latest), and compaction only removes
// records, so that description is still the latest with the handle before
// the event, and decodes to the same channel: nothing kept needs decoding
// or rewriting. A handle passes to another channel only once its channel
// is no longer open and described again under a new handle, so events
// after that refer to the new owner's descriptions, which come after the
// old owner's; the same reasoning holds for them.
//
// Snapshots refer to nothing and nothing refers into them, so compaction
// may drop a snapshot's finished channels by splicing bytes, as before:
// each channel is length-prefixed and last in the payload.
//
// Version 1 (record1.go) described every channel in full in every event;
// a version 1 journal replays and is then rewritten in version 2.
const (
	version  = 2
	frameLen = 8 // length and checksum
)

// header is the first bytes of every journal in this format: a JSON
// journal (the format before version 1) starts with '{'.
var header = [8]byte{'C', 'B', 'J', 'R', 'N', 'L', 0, version}

// headerV1 starts a journal in version 1.
var headerV1 = [8]byte{'C', 'B', 'J', 'R', 'N', 'L', 0, 1}

// maxRecord bounds one batch (a snapshot of thousands of channels fits
// many times over); a longer length is damage. An event's records take
// at most maxEvent of it.
const (
	maxRecord = 64 << 20
	maxEvent  = maxRecord - batchMax - 16
)

// batchMax: a batch is closed, and the next record starts another, once
// it holds this many bytes.
const batchMax = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errShort = errors.New("record cut short") // by the end of the data
	errBad   = errors.New("malformed record")
)

// rec is what the journal keeps in memory about one record in the file:
// what compaction needs to decide about it, so that compaction never
// decodes a record again. It is kept small (4 bytes a record in notes,
// the pairs shared): there is one per journaled event of every open call.
// The recs are the file's records, in order, after the header; where a
// record ends is its length's, in the file.
//
// For a description, ch is the channel described and more the channels
// of the events that refer to it.
type rec struct {
	// ch is the channel the event is about (its Channel, which an event
	// other than a snapshot refers to whenever it has an id).
	ch *described
	// more is the rest, when there is any: most events name no other
	// channel and are no snapshot.
	more *recMore
}

// notes keeps, per record, where its pointers are in a table of the
// pairs the records have: 4 bytes a record rather than 24. (Its size is
// in the file: compaction walks the records' lengths.) The pairs repeat: a channel's plain events share
// one (the channel, no note), the events naming the same others one, a
// description and the ones again after it one.
type notes struct {
	slots []uint32
	pairs []recPtrs
}

type recPtrs struct {
	ch   *described
	more *recMore
}

func (ns *notes) len() int { return len(ns.slots) }

func (ns *notes) at(i int) rec {
	p := ns.pairs[ns.slots[i]]
	return rec{ch: p.ch, more: p.more}
}

func (ns *notes) add(rs ...rec) {
	for _, r := range rs {
		ns.slots = append(ns.slots, ns.slot(recPtrs{r.ch, r.more}))
	}
}

// slot is where p is in pairs, added if it is not there. The pair's
// note, or its channel when it has none, remembers where it was put
// last; that is checked, as it may be another notes' (a compaction's).
func (ns *notes) slot(p recPtrs) uint32 {
	var at *uint32
	switch {
	case p.more != nil:
		at = &p.more.slot
	case p.ch != nil:
		at = &p.ch.slot
	}
	if at != nil && int(*at) < len(ns.pairs) && ns.pairs[*at] == p {
		return *at
	}
	s := uint32(len(ns.pairs))
	ns.pairs = append(ns.pairs, p)
	if at != nil {
		*at = s
	}
	return s
}

// cut keeps the first n. The pairs only they had stay until the next
// compaction or reset.
func (ns *notes) cut(n int) {
	ns.slots = ns.slots[:n]
	if n == 0 {
		clear(ns.pairs)
		ns.pairs = ns.pairs[:0]
	}
}

// descs counts the descriptions from the from'th record on.
func (ns *notes) descs(from int) int {
	n := 0
	for _, s := range ns.slots[from:] {
		if p := ns.pairs[s]; p.more != nil && p.more.desc {
			n++
		}
	}
	return n
}

// id is the channel the event is about.
func (r *rec) id() string {
	if r.ch == nil {
		return ""
	}
	return r.ch.id
}

// recMore is what few records have. It is kept in 48 bytes (a test pins
// it): there is one per description of an open channel, and one per run
// of a channel's events naming the same others.
type recMore struct {
	// ids are the other channels the record names (Peer, Second, Target
	// for an event), as idList gives them: two here, the third, which
	// few records have, in rare.
	ids  [2]string
	rare *recRare
	slot uint32 // see notes.slot
	desc bool   // the record is a description
}

// recRare is what fewer records still have.
type recRare struct {
	third string
	snap  *snapRec // a snapshot's
}

// idList is the other channels the record names, "" where none.
func (m *recMore) idList() [3]string {
	ids := [3]string{m.ids[0], m.ids[1]}
	if m.rare != nil {
		ids[2] = m.rare.third
	}
	return ids
}

func (m *recMore) setIDs(ids [3]string) {
	m.ids = [2]string{ids[0], ids[1]}
	if ids[2] != "" || m.rare != nil {
		m.more().third = ids[2]
	}
}

func (m *recMore) more() *recRare {
	if m.rare == nil {
		m.rare = new(recRare)
	}
	return m.rare
}

func (r *rec) isDesc() bool { return r.more != nil && r.more.desc }

func (r *rec) snap() *snapRec {
	if r.more == nil || r.more.rare == nil {
		return nil
	}
	return r.more.rare.snap
}

// snapRec is what compaction needs of a snapshot: where the channel count
// starts in the payload, and each channel's id and bytes (its length
// prefix included).
type snapRec struct {
	count int
	chans []chanRef
}

type chanRef struct {
	id     string
	off, n int // in the payload
}

// newRec notes the channels ev names, ch its Channel's description. The
// events of a channel that name the same others share their recMore.
func newRec(ev *bridge.Event, ch *described) rec {
	r := rec{ch: ch}
	ids := [3]string{ev.Peer.ID, ev.Second, ev.Target}
	if ev.Kind == bridge.Snapshot {
		r.more = new(recMore)
		r.more.setIDs(ids)
	} else if ids != [3]string{} {
		if ch != nil && ch.last != nil && ch.last.idList() == ids {
			r.more = ch.last
		} else {
			r.more = new(recMore)
			r.more.setIDs(ids)
			if ch != nil {
				ch.last = r.more
			}
		}
	}
	return r
}

// seal writes the frame's length and checksum for the payload after it.
func seal(frame []byte) {
	payload := frame[frameLen:]
	binary.LittleEndian.PutUint32(frame, uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(payload, castagnoli))
}

// recordAt reads the record at the start of a batch's payload b: the
// record's payload, and its whole length.
func recordAt(b []byte) (payload []byte, n int, err error) {
	size, k := binary.Uvarint(b)
	if k <= 0 || size > uint64(len(b)-k) || size == 0 {
		return nil, 0, errBad
	}
	return b[k : k+int(size)], k + int(size), nil
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
