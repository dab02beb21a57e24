package ari

import (
	"bytes"
	"encoding/binary"
)

// chanMemo remembers the channel objects the Decoder read lately, each
// with what it read as. Half the channel objects in mapped events are
// byte for byte one seen shortly before (a channel's state is repeated in
// every event about it, and a Dial carries both its channels), and a
// channel object is most of a message: comparing bytes is far cheaper
// than scanning them.
//
// It is exact: a JSON value ends where its own bytes say, so when the
// bytes at a value start with a remembered object that read well, the
// value is that object and reads the same (reading a channel depends on
// nothing but its bytes).
type chanMemo struct {
	slots [16]struct {
		raw []byte // the object as it was in its message, copied
		ch  chanSlot
	}
}

// Objects longer than maxMemo (a channel with many channelvars) are read
// each time, so the memo stays small.
const maxMemo = 2048

// memoChannel is channel through the memo. The slot is picked by the
// object's first 24 bytes, which hold its id in Asterisk's form
// ({"id":"1795277927.34",...), so a channel's newest form replaces its
// older ones.
func (d *Decoder) memoChannel(i int, s *chanSlot) int {
	b := d.b
	if at(b, i) != '{' || i+24 > len(b) {
		return d.channel(i, s)
	}
	h := binary.LittleEndian.Uint64(b[i:]) ^ binary.LittleEndian.Uint64(b[i+8:])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(b[i+16:])*0xc2b2ae3d27d4eb4f
	m := &d.memo.slots[(h^h>>32)%uint64(len(d.memo.slots))]
	if len(m.raw) > 0 && bytes.HasPrefix(b[i:], m.raw) {
		s.copyFrom(&m.ch)
		return i + len(m.raw)
	}
	end := d.channel(i, s)
	if end != bail && end-i <= maxMemo {
		m.raw = append(m.raw[:0], b[i:end]...)
		m.ch.copyFrom(s)
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
