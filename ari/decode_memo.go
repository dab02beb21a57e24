package ari

import (
	"bytes"
	"encoding/binary"

	"github.com/CyCoreSystems/ari/v5"
)

// memo remembers objects the Decoder read lately, each with what it read
// as. Half the channel objects in mapped events are byte for byte one seen
// shortly before (a channel's state is repeated in every event about it,
// and a Dial carries both its channels), and a channel object is most of
// a message; of the channels that did change, most kept their caller ids
// and many their dialplan position. Comparing bytes is far cheaper than
// scanning them.
//
// It is exact: a JSON value ends where its own bytes say, so when the
// bytes at a value start with a remembered object that read well, the
// value is that object and reads the same (reading a channel, caller id or
// dialplan position depends on nothing but its bytes).
type memo[T any] struct {
	slots [16]memoSlot[T]
}

type memoSlot[T any] struct {
	raw []byte // the object as it was in its message, copied
	v   T
}

// Objects longer than maxMemo (a channel with many channelvars) are read
// each time, so the memo stays small.
const maxMemo = 2048

// find returns the slot for the object at b[i], and whether it holds that
// very object; nil if the object is not one to remember. The slot is
// picked by the 24 bytes from the object's start, which hold a channel's
// id in Asterisk's form ({"id":"1795277927.34",...): a channel's newest
// form replaces its older ones.
func (m *memo[T]) find(b []byte, i int) (s *memoSlot[T], hit bool) {
	if at(b, i) != '{' || i+24 > len(b) {
		return nil, false
	}
	h := binary.LittleEndian.Uint64(b[i:]) ^ binary.LittleEndian.Uint64(b[i+8:])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(b[i+16:])*0xc2b2ae3d27d4eb4f
	s = &m.slots[(h^h>>32)%uint64(len(m.slots))]
	return s, len(s.raw) > 0 && bytes.HasPrefix(b[i:], s.raw)
}

// keep takes b[i:end], an object just read, as what s remembers (its
// value is the caller's to set) and says whether it did.
func (s *memoSlot[T]) keep(b []byte, i, end int) bool {
	if s == nil || end == bail || end-i > maxMemo {
		return false
	}
	s.raw = append(s.raw[:0], b[i:end]...)
	return true
}

// memoChannel is channel through the memo.
func (d *Decoder) memoChannel(i int, s *chanSlot) int {
	m, hit := d.memo.channels.find(d.b, i)
	if hit {
		s.copyFrom(&m.v)
		return i + len(m.raw)
	}
	end := d.channel(i, s)
	if m.keep(d.b, i, end) {
		m.v.copyFrom(s)
	}
	return end
}

// copyFrom makes s read as o, its pointers into its own storage.
func (s *chanSlot) copyFrom(o *chanSlot) {
	s.cd, s.app = o.cd, o.app
	if o.cd.Caller != nil {
		s.caller = *o.cd.Caller
		s.cd.Caller = &s.caller
	}
	if o.cd.Connected != nil {
		s.connected = *o.cd.Connected
		s.cd.Connected = &s.connected
	}
	if o.cd.Dialplan != nil {
		s.dialplan = *o.cd.Dialplan
		s.cd.Dialplan = &s.dialplan
	}
	if o.cd.Creationtime != nil {
		s.created = *o.cd.Creationtime
		s.cd.Creationtime = &s.created
	}
}

// dialplanRead is what a dialplan object reads as.
type dialplanRead struct {
	cep ari.DialplanCEP
	app string
}

// memos are the Decoder's memos, one per kind of object.
type memos struct {
	channels memo[chanSlot]
	callers  memo[ari.CallerID]
	dialplan memo[dialplanRead]
}
