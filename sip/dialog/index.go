package dialog

import (
	"cmp"
	"slices"
	"time"
)

// index holds the tracker's legs so that every lookup a message needs
// costs what the few legs it concerns cost, not what all open dialogs
// cost: a PBX with thousands of calls in progress must not slow down, nor
// make the tracker give up on any of them.
type index struct {
	byCallID map[string][]*leg
	live     []*leg // open legs, unordered (leg.pos is the position)
	// Link candidates: open legs by the number they present (caller
	// number; caller name for incoming legs), by the extension incoming
	// legs dialled, and by the endpoint (user) they belong to.
	byNumber   map[string][]*leg
	byExten    map[string][]*leg
	byEndpoint map[string][]*leg
	// byAwait: transferees of an accepted blind transfer, by the
	// extension the PBX is about to dial for them.
	byAwait map[string][]*leg
	// recent: incoming legs in order of arrival, for the link window;
	// trimmed as they age out.
	recent []*leg
	// alone: legs the PBX answered itself with nobody dialled for them
	// (IVR, voicemail, feature codes, a pickup or park retrieval before
	// the PBX connects it), for meeting the call they are handed.
	alone []*leg
	// origins: users' phones the PBX rang on nobody's behalf and that
	// answered (an originate), until the PBX dials for them.
	origins []*leg
	// bridges: the members of each synthetic bridge.
	bridges map[string][]*leg
	// ended legs stay findable by Call-ID for a while (see forgetEnded),
	// oldest first.
	ended []*leg
}

func (x *index) init() {
	*x = index{
		byCallID:   map[string][]*leg{},
		byNumber:   map[string][]*leg{},
		byExten:    map[string][]*leg{},
		byEndpoint: map[string][]*leg{},
		byAwait:    map[string][]*leg{},
		bridges:    map[string][]*leg{},
	}
}

func (x *index) add(l *leg) {
	x.byCallID[l.callID] = append(x.byCallID[l.callID], l)
	l.pos = len(x.live)
	x.live = append(x.live, l)
	addTo(x.byNumber, l.ch.CallerNumber, l)
	if !l.out {
		if l.ch.CallerName != l.ch.CallerNumber {
			addTo(x.byNumber, l.ch.CallerName, l)
		}
		addTo(x.byExten, l.ch.Exten, l)
		x.recent = append(x.recent, l)
		if len(x.recent) > 1024 {
			x.trimRecent(l.ch.Created, maxLinkWindow)
		}
	}
	addTo(x.byEndpoint, l.ch.Endpoint, l)
}

// remove takes an ended leg out of every index but byCallID, where it
// stays until forgetEnded.
func (x *index) remove(l *leg, at time.Time) {
	if l.pos >= 0 && l.pos < len(x.live) && x.live[l.pos] == l {
		last := x.live[len(x.live)-1]
		x.live[l.pos] = last
		last.pos = l.pos
		x.live = x.live[:len(x.live)-1]
	}
	l.pos = -1
	removeFrom(x.byNumber, l.ch.CallerNumber, l)
	if !l.out {
		removeFrom(x.byNumber, l.ch.CallerName, l)
		removeFrom(x.byExten, l.ch.Exten, l)
		if i := slices.Index(x.recent, l); i >= 0 {
			x.recent = slices.Delete(x.recent, i, i+1)
		}
	}
	removeFrom(x.byEndpoint, l.ch.Endpoint, l)
	x.unawait(l)
	x.notAlone(l)
	x.notOrigin(l)
	x.ended = append(x.ended, l)
}

func (x *index) await(l *leg, exten string) {
	x.unawait(l)
	if exten == "" {
		return
	}
	l.awaiting = exten
	addTo(x.byAwait, exten, l)
}

func (x *index) unawait(l *leg) {
	if l.awaiting != "" {
		removeFrom(x.byAwait, l.awaiting, l)
		l.awaiting = ""
	}
}

func (x *index) setAlone(l *leg) {
	if !l.alone {
		l.alone = true
		x.alone = append(x.alone, l)
	}
}

func (x *index) notAlone(l *leg) {
	if l.alone {
		l.alone = false
		if i := slices.Index(x.alone, l); i >= 0 {
			x.alone = slices.Delete(x.alone, i, i+1)
		}
	}
}

func (x *index) setOrigin(l *leg) { x.origins = append(x.origins, l) }

func (x *index) notOrigin(l *leg) {
	if i := slices.Index(x.origins, l); i >= 0 {
		x.origins = slices.Delete(x.origins, i, i+1)
	}
}

// trimRecent drops incoming legs older than window from the link window.
func (x *index) trimRecent(now time.Time, window time.Duration) {
	i := 0
	for i < len(x.recent) && now.Sub(x.recent[i].ch.Created) > window {
		i++
	}
	if i > 0 {
		x.recent = slices.Delete(x.recent, 0, i)
	}
}

// forgetEnded drops legs that ended more than 32 s ago (Timer B/F): until
// then late responses and retransmissions are recognised rather than
// taken for new dialogs.
func (x *index) forgetEnded(now time.Time) {
	i := 0
	for i < len(x.ended) && now.Sub(x.ended[i].endedAt) >= 32*time.Second {
		l := x.ended[i]
		removeFrom(x.byCallID, l.callID, l)
		i++
	}
	if i > 0 {
		x.ended = slices.Delete(x.ended, 0, i)
	}
}

// sortedLive is the open legs in the order they began.
func (x *index) sortedLive() []*leg {
	ls := slices.Clone(x.live)
	slices.SortFunc(ls, bySeq)
	return ls
}

func (x *index) join(id string, l *leg) {
	x.bridges[id] = append(x.bridges[id], l)
}

func (x *index) leave(id string, l *leg) { removeFrom(x.bridges, id, l) }

// members is who is in bridge id.
func (x *index) members(id string) []*leg { return x.bridges[id] }

func addTo(m map[string][]*leg, k string, l *leg) {
	if k != "" {
		m[k] = append(m[k], l)
	}
}

func removeFrom(m map[string][]*leg, k string, l *leg) {
	ls := m[k]
	if i := slices.Index(ls, l); i >= 0 {
		ls = slices.Delete(ls, i, i+1)
	}
	if len(ls) == 0 {
		delete(m, k)
	} else {
		m[k] = ls
	}
}

func bySeq(a, b *leg) int { return cmp.Compare(a.seq, b.seq) }

// maxLinkWindow bounds how long an incoming leg stays in the link window
// list whatever LinkWindow says, so the list cannot grow without end.
const maxLinkWindow = time.Minute
