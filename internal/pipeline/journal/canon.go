package journal

import (
	"encoding/binary"
	"strings"

	"github.com/callbridge/callbridge/bridge"
)

// A description's channel is kept in memory (described.d) for the encoder
// to compare the channel's next events with: one per open channel. It is
// kept in a form of its own, never written, smaller than the delta the
// file has: the fields in the delta's order, each string field as
//
//	uvarint v  even: v/2 bytes of the string follow
//	           1: the same as the string field before it (a trunk call's
//	           caller and connected numbers, often)
//	           other odd: word v/2-1 of the codec's words, then the rest
//	           of the string as a uvarint length and its bytes
//
// The words are what recurs from call to call: dialplan contexts,
// applications, endpoints, and a channel name up to its counter
// ("PJSIP/101-"). There are at most maxWords of them, kept while the
// codec is: a word once taken is never dropped, so a description in
// memory always reads back.

// maxWords bounds the words: a PBX has few contexts and applications; the
// names of more endpoints than this are kept whole.
const maxWords = 1024

// wordList is the codec's words.
type wordList struct {
	list  []string
	index map[string]uint32
}

// find is s's word, taking it if there is room.
func (w *wordList) find(s string) (uint32, bool) {
	if k, ok := w.index[s]; ok {
		return k, true
	}
	if len(w.list) >= maxWords {
		return 0, false
	}
	if w.index == nil {
		w.index = map[string]uint32{}
	}
	s = strings.Clone(s) // not a part of an event's bigger string
	w.index[s] = uint32(len(w.list))
	w.list = append(w.list, s)
	return uint32(len(w.list) - 1), true
}

// canonical is ch in the form above, but for its id (which its described
// has), its times as they are.
func (c *codec) canonical(ch *bridge.Channel) string {
	m, _ := diff("", nil, ch)
	m &^= chID
	var buf [256]byte
	f := canonFields{b: binary.AppendUvarint(buf[:0], m), w: &c.words}
	f.str(m&chName, ch.Name, namePrefix(ch.Name))
	f.str(m&chEndpoint, ch.Endpoint, len(ch.Endpoint))
	f.str(m&chLinkedID, ch.LinkedID, 0)
	if m&chState != 0 {
		f.b = append(f.b, byte(ch.State))
	}
	f.str(m&chCallerNumber, ch.CallerNumber, 0)
	f.str(m&chCallerName, ch.CallerName, 0)
	f.str(m&chConnectedNumber, ch.ConnectedNumber, 0)
	f.str(m&chConnectedName, ch.ConnectedName, 0)
	f.str(m&chExten, ch.Exten, 0)
	f.str(m&chContext, ch.Context, len(ch.Context))
	f.str(m&chApp, ch.App, len(ch.App))
	if m&chCreated != 0 {
		f.b = appendTime(f.b, ch.Created)
	}
	f.str(m&chBridge, ch.Bridge, 0)
	if m&chBridged != 0 {
		f.b = appendTime(f.b, ch.Bridged)
	}
	return string(f.b)
}

// namePrefix is how much of a channel name is its word: up to the counter
// after the last '-'.
func namePrefix(name string) int {
	return strings.LastIndexByte(name, '-') + 1
}

type canonFields struct {
	b    []byte
	w    *wordList
	prev string
}

// str appends s if bit is set, its first word bytes as a word if the
// codec has or takes it.
func (f *canonFields) str(bit uint64, s string, word int) {
	if bit == 0 {
		return
	}
	switch {
	case s == f.prev:
		f.b = append(f.b, 1)
	case word > 0:
		if k, ok := f.w.find(s[:word]); ok {
			f.b = binary.AppendUvarint(f.b, uint64(k+1)<<1|1)
			f.b = appendString(f.b, s[word:])
			break
		}
		fallthrough
	default:
		f.b = binary.AppendUvarint(f.b, uint64(len(s))<<1)
		f.b = append(f.b, s...)
	}
	f.prev = s
}

// field reads a string field of the form and tells whether it is v.
// (It is read for every field of every event's channels: kept cheap.)
func (r *reader) field(v string) bool {
	k := r.uvarint()
	switch {
	case k&1 == 0:
		n := int(k >> 1)
		r.i += n
		r.word, r.rest = "", r.s[r.i-n:r.i]
	case k > 1:
		r.word = r.w.list[k>>1-1]
		r.rest = r.string()
	}
	if r.word == "" {
		return r.rest == v
	}
	return len(v) == len(r.word)+len(r.rest) && v[:len(r.word)] == r.word && v[len(r.word):] == r.rest
}
