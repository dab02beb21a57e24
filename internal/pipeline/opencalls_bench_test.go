package pipeline

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline/journal"
)

// BenchmarkOpenCalls measures what a call in progress costs the daemon's
// ARI path: 10,000 copies of a recorded answered call, each cut off while
// its parties talk (before the first hang-up request), so that all of them
// are open at the end. Each copy is the recording's websocket messages
// with its own channel ids, channel names, bridge ids and caller number,
// copy k starting k × 10 ms after the first, the copies' messages in time
// order (as a busy PBX interleaves them). Every message is made as it is
// needed, decoded by ari.Decoder, and the events go through the engine
// stage in batches of 16, with its journal in a temporary directory, as
// the live source hands them on.
//
// heapB/call is the live heap after a collection, less the same
// process's with no call open, per call; rssB/call the same of VmRSS,
// after the freed memory is returned to the kernel; journalB/call the
// journal's file size after the last batch, per call.
func BenchmarkOpenCalls(b *testing.B) {
	const calls = 10000
	for _, sc := range []string{"inbound_answered", "internal_answered", "queue"} {
		b.Run(sc, func(b *testing.B) {
			rec := openCallRecording(b, sc)
			order := rec.interleave(calls, 10*time.Millisecond)
			var heap, rss, disk float64
			for b.Loop() {
				heap, rss, disk = rec.open(b, calls, order)
			}
			b.ReportMetric(heap, "heapB/call")
			if rss != 0 {
				b.ReportMetric(rss, "rssB/call")
			}
			b.ReportMetric(disk, "journalB/call")
		})
	}
}

// openProfile: -memprofile is written when the benchmarks are over and the
// calls long gone; this is the heap while they are open.
var openProfile = flag.String("open-heapprofile", "", "write the heap profile of BenchmarkOpenCalls with every call open to `file`")

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// open plays the copies' messages in order through a new engine stage and
// returns the bytes held per open call.
func (r *callRecording) open(b *testing.B, calls int, order []copyLine) (heap, rss, disk float64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "ari.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	talking, finished := 0, 0
	e := NewBatchEngine(cfg, phone.Normalizer{}, func(as []bridge.Activity) { finished += len(as) }, func(tr bridge.Transition) {
		if tr.State == bridge.Talking {
			talking++
		}
	})
	e.OnJournalError = func(err error) { b.Fatal(err) }
	if _, err := e.Restore(j); err != nil {
		b.Fatal(err)
	}
	var dec ari.Decoder
	var buf []byte

	b.StopTimer()
	heap0, rss0 := settled()
	b.StartTimer()
	n := 0
	for _, cl := range order {
		buf = r.render(buf[:0], cl)
		ev, ok, err := dec.Decode(buf)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			continue
		}
		if n%16 == 0 {
			e.Begin()
		}
		e.Handle(ev)
		if n++; n%16 == 0 {
			e.End()
		}
	}
	e.End()
	b.StopTimer()
	buf = nil
	heap1, rss1 := settled()
	if *openProfile != "" {
		writeHeapProfile(b, *openProfile)
	}
	b.StartTimer()

	if st, _ := e.Stats(); st.Calls != calls || finished != 0 || talking < calls || dec.Fallbacks != 0 {
		b.Fatalf("%d calls open, %d finished, %d connected transitions, %d messages left to ari/v5; want %d open, all connected",
			st.Calls, finished, talking, dec.Fallbacks, calls)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	runtime.KeepAlive(e)
	heap = float64(int64(heap1)-int64(heap0)) / float64(calls)
	if rss0 != 0 && rss1 != 0 {
		rss = float64(int64(rss1)-int64(rss0)) / float64(calls)
	}
	return heap, rss, float64(fi.Size()) / float64(calls)
}

// settled collects garbage, returns what it freed to the kernel, and
// reads the live heap and the resident set (0 when /proc cannot say).
func settled() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, vmRSS()
}

// vmRSS is the process's resident set in bytes, from /proc/self/status.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// callRecording is a recording's messages up to the cut, each split where
// a copy differs from the recording.
type callRecording struct {
	lines [][]piece
	at    []time.Duration // each line's timestamp, from the first line's
	start time.Time
	gap   time.Duration // between the starts of two copies (interleave)
}

// piece is a line's literal bytes or something renamed per copy.
type piece struct {
	lit  string
	kind pieceKind
	// what the recording has: a channel id's sequence number, a channel
	// name's counter, a bridge's index; a timestamp's offset.
	n   int
	pre string // what a renamed value keeps (the id's or name's prefix)
	at  time.Duration
}

type pieceKind uint8

const (
	literal pieceKind = iota
	channelID
	channelName
	bridgeID
	callerNumber
	timestamp
)

// recordedCaller is the trunk caller of the recordings, given each copy
// its own number.
const recordedCaller = "+358401234567"

const ariTime = "2006-01-02T15:04:05.000-0700"

var ariTimestamp = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000"`)

// openCallRecording reads the scenario's messages up to its first hang-up
// request after a bridge entered (its parties talking), and notes in each
// the ids, names, bridge ids, caller number and timestamps.
func openCallRecording(b *testing.B, name string) *callRecording {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("../../testdata/recordings", name, "ari.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	var msgs [][]byte
	ids, names, bridges := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var dec ari.Decoder
	bridged := false
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		ev, ok, err := dec.Decode(line)
		if err != nil {
			b.Fatal(err)
		}
		if ok && ev.Kind == bridge.HangupRequest && bridged {
			break
		}
		msgs = append(msgs, line)
		if !ok {
			continue
		}
		bridged = bridged || ev.Kind == bridge.BridgeEnter
		for _, c := range append([]bridge.Channel{ev.Channel, ev.Peer}, ev.Channels...) {
			ids[c.ID], names[strings.TrimSuffix(strings.TrimSuffix(c.Name, ";1"), ";2")] = true, true
			bridges[c.Bridge] = true
		}
		ids[ev.Second], ids[ev.Target], bridges[ev.Bridge] = true, true, true
	}
	if !bridged {
		b.Fatalf("%s: no bridge entered", name)
	}
	delete(ids, "")
	delete(names, "")
	delete(bridges, "")

	// One pattern for all of it, longest literal first so that none
	// matches a part of another.
	kinds := map[string]piece{}
	var alts []string
	add := func(s string, p piece) {
		kinds[s] = p
		alts = append(alts, regexp.QuoteMeta(s))
	}
	add(recordedCaller, piece{kind: callerNumber})
	for id := range ids {
		pre, seq, ok := strings.Cut(id, ".")
		n, err := strconv.Atoi(seq)
		if !ok || err != nil {
			b.Fatalf("%s: channel id %q is not Asterisk's", name, id)
		}
		add(`"`+id+`"`, piece{kind: channelID, pre: pre, n: n})
	}
	for nm := range names {
		i := strings.LastIndexByte(nm, '-')
		n, err := strconv.ParseUint(nm[i+1:], 16, 32)
		if i < 0 || len(nm)-i-1 != 8 || err != nil {
			b.Fatalf("%s: channel name %q has no counter", name, nm)
		}
		add(nm, piece{kind: channelName, pre: nm[:i+1], n: int(n)})
	}
	k := 0
	for _, br := range slices.Sorted(mapKeys(bridges)) {
		if len(br) != 36 {
			b.Fatalf("%s: bridge id %q is not a UUID", name, br)
		}
		add(`"`+br+`"`, piece{kind: bridgeID, pre: br[:24], n: k})
		k++
	}
	slices.SortFunc(alts, func(x, y string) int { return len(y) - len(x) })
	alts = append(alts, ariTimestamp.String())
	re := regexp.MustCompile(strings.Join(alts, "|"))

	r := &callRecording{}
	for _, m := range msgs {
		var ps []piece
		at := time.Duration(-1)
		last := 0
		for _, loc := range re.FindAllIndex(m, -1) {
			ps = append(ps, piece{lit: string(m[last:loc[0]])})
			tok := string(m[loc[0]:loc[1]])
			p, ok := kinds[tok]
			if !ok { // a timestamp
				t, err := time.Parse(ariTime, strings.Trim(tok, `"`))
				if err != nil {
					b.Fatal(err)
				}
				if r.start.IsZero() {
					r.start = t
				}
				p = piece{kind: timestamp, at: t.Sub(r.start)}
				if at < 0 {
					at = p.at // the first is the event's own
				}
			}
			ps = append(ps, p)
			last = loc[1]
		}
		ps = append(ps, piece{lit: string(m[last:])})
		if at < 0 && len(r.at) > 0 {
			at = r.at[len(r.at)-1]
		}
		r.lines = append(r.lines, ps)
		r.at = append(r.at, max(at, 0))
	}
	return r
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// copyLine is line of copy k.
type copyLine struct {
	k    int32
	line int32
}

// interleave orders the lines of calls copies, copy k starting k × gap
// after the first, by time.
func (r *callRecording) interleave(calls int, gap time.Duration) []copyLine {
	r.gap = gap
	out := make([]copyLine, 0, calls*len(r.lines))
	for k := range calls {
		for i := range r.lines {
			out = append(out, copyLine{int32(k), int32(i)})
		}
	}
	at := func(c copyLine) time.Duration { return time.Duration(c.k)*gap + r.at[c.line] }
	slices.SortStableFunc(out, func(x, y copyLine) int { return int(at(x) - at(y)) })
	return out
}

// render appends the line as copy k has it.
func (r *callRecording) render(buf []byte, cl copyLine) []byte {
	k := int(cl.k)
	for _, p := range r.lines[cl.line] {
		switch p.kind {
		case literal:
			buf = append(buf, p.lit...)
		case channelID: // the PBX's uniqueids go on counting
			buf = append(buf, '"')
			buf = append(buf, p.pre...)
			buf = append(buf, '.')
			buf = strconv.AppendInt(buf, int64(1000*(k+1)+p.n), 10)
			buf = append(buf, '"')
		case channelName:
			buf = append(buf, p.pre...)
			buf = appendHex(buf, uint64(k)<<12|uint64(p.n&0xfff), 8)
		case bridgeID:
			buf = append(buf, '"')
			buf = append(buf, p.pre...)
			buf = appendHex(buf, uint64(k)<<8|uint64(p.n), 12)
			buf = append(buf, '"')
		case callerNumber:
			buf = append(buf, "+35840"...)
			buf = appendDigits(buf, k, 7)
		case timestamp:
			buf = append(buf, '"')
			buf = r.start.Add(time.Duration(k)*r.gap+p.at).AppendFormat(buf, ariTime)
			buf = append(buf, '"')
		}
	}
	return buf
}

func appendHex(b []byte, v uint64, width int) []byte {
	s := strconv.FormatUint(v, 16)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendDigits(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}
