package cel

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Stats counts what a CEL source held. Every row read is exactly one of
// Mapped, Skipped or Malformed.
type Stats struct {
	Rows      int // rows read
	Mapped    int // rows that gave the engine events
	Skipped   int // well-formed rows the engine has no use for
	Malformed int // rows that did not parse, or lack what their event needs
	// Problems describes the first few malformed rows, for the log.
	Problems []string
}

const maxProblems = 10

func (s *Stats) problem(p string) {
	s.Malformed++
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, p)
	}
}

// add counts o's rows into s.
func (s *Stats) add(o Stats) {
	s.Rows += o.Rows
	s.Mapped += o.Mapped
	s.Skipped += o.Skipped
	s.Malformed += o.Malformed
	for _, p := range o.Problems {
		if len(s.Problems) < maxProblems {
			s.Problems = append(s.Problems, p)
		}
	}
}

// DefaultMaxPending bounds how many rows a Mapper holds back waiting for a
// call's later rows; see Mapper.
const DefaultMaxPending = 200000

// Mapper turns CEL rows, fed in the order Asterisk wrote them, into
// bridge events.
//
// CEL says less than ARI at the moment something happens and more later:
// a dialled channel's CHAN_START does not say who dialled it, but its later
// rows run in AppDial and its dialler's rows name it in Dial's arguments;
// a callee that was not answered ends without a dial status, which its
// dialler's HANGUP carries. So a row is held back until the rows that
// explain it have been fed: until its channel has ended and so has every
// channel of the same call that could have dialled it. Rows come out in
// their own order. A call still running holds back the rows fed after it
// began; past MaxPending rows the oldest go out with what is known by then.
// Flush releases everything at the end of the input.
//
// A Mapper is not safe for concurrent use.
type Mapper struct {
	// MaxPending bounds the rows held back; 0 means DefaultMaxPending.
	MaxPending int

	emit  func(bridge.Event)
	stats Stats

	chans map[string]*chanState   // by unique id
	alive map[string][]*chanState // started, not ended (as fed), by linked id
	queue []pending
	head  int

	lastRaw, lastAdj time.Time // tie spreading, see adjustTime
	sweepAt          int
}

type pending struct {
	row Row
	ch  *chanState
	x   extra
}

// NewMapper returns a mapper that passes each event to emit.
func NewMapper(emit func(bridge.Event)) *Mapper {
	return &Mapper{
		emit:  emit,
		chans: make(map[string]*chanState),
		alive: make(map[string][]*chanState),
	}
}

// Stats reports the rows fed so far (Rows counts those fed here, not lines
// a reader could not parse).
func (m *Mapper) Stats() Stats { return m.stats }

// Feed takes the next row.
func (m *Mapper) Feed(r Row) {
	m.stats.Rows++
	m.adjustTime(&r)
	kind, x, err := classify(&r)
	if err != nil {
		m.stats.problem(fmt.Sprintf("row %d (%s %s): %v", r.Seq, r.Event, r.UniqueID, err))
		return
	}
	c := m.chans[r.UniqueID]
	if kind == rowSkip {
		if c != nil {
			c.noteFacts(&r, &x)
		}
		m.stats.Skipped++
		return
	}
	if c != nil && c.ended {
		// A row about a channel after its CHAN_END: nothing can follow.
		m.stats.Skipped++
		return
	}
	if c == nil {
		c = m.open(&r)
	}
	m.track(c, &r)
	c.noteFacts(&r, &x)
	if r.Event == EventChanEnd {
		c.ended = true
		m.unlink(c)
	}
	m.stats.Mapped++
	m.queue = append(m.queue, pending{row: r, ch: c, x: x})
	m.release(false)
	if m.stats.Rows >= m.sweepAt {
		m.sweep(r.Time)
		m.sweepAt = m.stats.Rows + 10000
	}
}

// Flush releases every row still held back, as the end of the input.
func (m *Mapper) Flush() { m.release(true) }

// adjustTime keeps rows in their written order when the source keeps only
// whole seconds (a MySQL datetime column): a row in the same second as the
// one before it is placed 1 µs after it. Without this the engine could not
// tell which of two channels created in one second came first, and a
// call's id (its first channel's) could differ from the id ARI gives.
func (m *Mapper) adjustTime(r *Row) {
	raw := r.Time
	if raw.Nanosecond() == 0 && !m.lastRaw.IsZero() && raw.Equal(m.lastRaw) {
		r.Time = m.lastAdj.Add(time.Microsecond)
	}
	m.lastRaw, m.lastAdj = raw, r.Time
}

type rowKind uint8

const (
	rowSkip rowKind = iota
	rowMap
)

// classify says whether a row gives the engine anything and checks that it
// carries what its event needs.
func classify(r *Row) (rowKind, extra, error) {
	var x extra
	need := false
	switch r.Event {
	case EventChanStart, EventChanEnd, EventAnswer, EventDTMF:
	case EventHangup, EventBridgeEnter, EventBridgeExit, EventBlindTransfer, EventAttendedTransfer, EventParkStart:
		need = true
	case EventUser:
		if !isPrivacyEvent(r.UserEvent) {
			return rowSkip, x, nil
		}
	case EventForward:
		// A fact about its channel's dial (where a dialled phone sent
		// the call), reported with that dial's end; see followForward.
		x, _ = parseExtra(r.Extra)
		return rowSkip, x, nil
	default:
		// APP_START/END, PARK_END, PICKUP, LINKEDID_END,
		// LOCAL_OPTIMIZE*, STREAM_*: another row carries what they
		// say (the bridge, hang-up and transfer rows), or the engine has
		// no use for it. Their application fields are still facts.
		return rowSkip, x, nil
	}
	switch {
	case r.UniqueID == "":
		return rowSkip, x, errors.New("no uniqueid")
	case r.ChanName == "":
		return rowSkip, x, errors.New("no channel name")
	case r.Time.IsZero():
		return rowSkip, x, errors.New("no event time")
	}
	var err error
	x, err = parseExtra(r.Extra)
	if err != nil {
		if r.Event == EventUser {
			// CELGenUserEvent text written as is by a custom template.
			return rowMap, extra{Extra: r.Extra}, nil
		}
		return rowSkip, x, err
	}
	if !need {
		return rowMap, x, nil
	}
	switch r.Event {
	case EventHangup:
		if _, err := x.cause(); err != nil {
			return rowSkip, x, err
		}
	case EventBridgeEnter, EventBridgeExit:
		if x.BridgeID == "" {
			return rowSkip, x, fmt.Errorf("no bridge_id in eventextra")
		}
	}
	return rowMap, x, nil
}

// isPrivacyEvent says whether a user-defined event is the privacy mark
// (CELGenUserEvent(CALLBRIDGE_PRIVACY,private)), also spelt with the
// inheritance underscores a Set() would use.
func isPrivacyEvent(name string) bool {
	return strings.EqualFold(strings.TrimLeft(strings.TrimSpace(name), "_"), bridge.PrivacyVar)
}

// open starts tracking a channel at its first mapped row, which is its
// CHAN_START unless the rows begin in the middle of its life.
func (m *Mapper) open(r *Row) *chanState {
	c := &chanState{id: r.UniqueID, name: r.ChanName, linked: r.LinkedID, startLinked: r.LinkedID, first: r.Time}
	// Whoever could have dialled it is alive in the same call now.
	c.candidates = append(c.candidates, m.alive[r.LinkedID]...)
	m.chans[c.id] = c
	m.alive[c.linked] = append(m.alive[c.linked], c)
	return c
}

// track follows a channel moving to another linked id (a pickup, a parked
// call retrieved) so that later channels look for their dialler in the
// right call.
func (m *Mapper) track(c *chanState, r *Row) {
	if r.LinkedID == "" || r.LinkedID == c.linked || c.ended {
		return
	}
	m.unlink(c)
	c.linked = r.LinkedID
	m.alive[c.linked] = append(m.alive[c.linked], c)
}

func (m *Mapper) unlink(c *chanState) {
	list := m.alive[c.linked]
	for i, o := range list {
		if o == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m.alive, c.linked)
	} else {
		m.alive[c.linked] = list
	}
}

// release passes on the rows at the head of the queue whose facts are
// complete; all of them when force is set or the queue is over its bound.
func (m *Mapper) release(force bool) {
	limit := m.MaxPending
	if limit <= 0 {
		limit = DefaultMaxPending
	}
	for m.head < len(m.queue) {
		p := &m.queue[m.head]
		if !force && len(m.queue)-m.head <= limit && !p.ch.settled() {
			break
		}
		m.apply(p)
		m.queue[m.head] = pending{}
		m.head++
	}
	if m.head == len(m.queue) {
		m.queue, m.head = m.queue[:0], 0
	} else if m.head > 4096 && m.head > len(m.queue)/2 {
		n := copy(m.queue, m.queue[m.head:])
		clear(m.queue[n:])
		m.queue, m.head = m.queue[:n], 0
	}
}

// sweep forgets channels that ended over an hour (of event time) ago and
// whose rows are all out: only a LINKEDID_END may still name them.
func (m *Mapper) sweep(now time.Time) {
	for id, c := range m.chans {
		if c.destroyed && now.Sub(c.destroyedAt) > time.Hour {
			delete(m.chans, id)
		}
	}
}
