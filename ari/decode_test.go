package ari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/callbridge/callbridge/bridge"
)

// sameDecode compares two decodings the way the engine would see them: the
// event only matters when it is passed on.
func sameDecode(a bridge.Event, aok bool, aerr error, b bridge.Event, bok bool, berr error) string {
	switch {
	case (aerr != nil) != (berr != nil):
		return fmt.Sprintf("error %v, want %v", aerr, berr)
	case aok != bok:
		return fmt.Sprintf("ok %v, want %v", aok, bok)
	case aok && !reflect.DeepEqual(a, b):
		return fmt.Sprintf("event\n  %+v\nwant\n  %+v", a, b)
	}
	return ""
}

// TestDecoderMatchesV5: on every message of every recording the Decoder
// gives the bridge event that ari/v5's decoder and Map give, decides every
// one of them itself (no fallback, so the benchmarks measure the fast
// path), and passes on the same messages.
func TestDecoderMatchesV5(t *testing.T) {
	names := recordingNames(t)
	if len(names) < 28 {
		t.Fatalf("%d recordings, want all 28", len(names))
	}
	total, mapped := 0, 0
	for _, name := range names {
		b, err := os.ReadFile(recordingPath(name))
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, maxLine)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			ev, ok, err := d.Decode(line)
			want, wok, werr := Decode(line)
			if diff := sameDecode(ev, ok, err, want, wok, werr); diff != "" {
				t.Errorf("%s line %d: %s\n%s", name, n, diff, line)
			}
			total++
			if ok {
				mapped++
			}
		}
		if d.Fallbacks != 0 {
			t.Errorf("%s: %d messages left to ari/v5", name, d.Fallbacks)
		}
	}
	if mapped == 0 || mapped == total {
		t.Fatalf("%d of %d messages mapped: the comparison is not exercising both paths", mapped, total)
	}
}

// TestDecoderLeavesUnusualToV5: messages ari/v5 may read differently from
// a plain reading (other case, repeats, escapes, odd types) go to the
// reference decoder, which then decides; the answers still agree.
func TestDecoderLeavesUnusualToV5(t *testing.T) {
	const ch = `"channel":{"id":"1.2","name":"PJSIP/101-1","state":"Up","caller":{"name":"A","number":"101"},"creationtime":"2026-11-21T16:09:34.505+0000"}`
	const ts = `"timestamp":"2026-11-21T16:09:35.000+0000"`
	for _, tt := range []struct {
		name, raw string
		fast      bool // the Decoder decides it itself
	}{
		{"plain", `{"type":"ChannelCreated",` + ts + `,` + ch + `}`, true},
		{"spaces", " {\"type\":\"ChannelCreated\" ,\n" + ts + "\t," + ch + "}\r\n", true},
		{"spaced type", `{"type" : "ChannelCreated",` + ts + `,` + ch + `}`, false}, // the glance wants Asterisk's compact form
		{"nulls", `{"type":"ChannelCreated",` + ts + `,"channel":{"id":"1","caller":null,"dialplan":null,"key":null,"name":null,"channelvars":null},"application":null}`, true},
		{"unknown keys", `{"type":"ChannelCreated",` + ts + `,"x":[1,{"y":null},"\u00e4"],` + ch + `,"cause":"not read"}`, true},
		{"utf-8", `{"type":"ChannelCreated",` + ts + `,"channel":{"id":"1","caller":{"name":"Jörg Müller","number":"+49301234567"}}}`, true},
		{"channelvars", `{"type":"ChannelCreated",` + ts + `,"channel":{"id":"1","channelvars":{"A":"1","B":null}}}`, true},
		{"cause", `{"type":"ChannelDestroyed","cause":-0,` + ts + `,` + ch + `}`, true},
		{"upper-case key", `{"type":"ChannelCreated",` + ts + `,"Channel":{"id":"9"},` + ch + `}`, false},
		{"repeated key", `{"type":"ChannelCreated",` + ts + `,` + ch + `,"channel":{"id":"9"}}`, false},
		{"escaped id", `{"type":"ChannelCreated",` + ts + `,"channel":{"id":"1\u002e2"}}`, false},
		{"escaped key", `{"type":"ChannelCreated",` + ts + `,"ch\u0061nnel":{"id":"9"}}`, false},
		{"invalid utf-8", "{\"type\":\"ChannelCreated\"," + ts + ",\"channel\":{\"id\":\"1\xff\"}}", false},
		{"cause as text", `{"type":"ChannelDestroyed","cause":"16",` + ts + `,` + ch + `}`, false},
		{"cause fraction", `{"type":"ChannelDestroyed","cause":16.0,` + ts + `,` + ch + `}`, false},
		{"null time", `{"type":"ChannelCreated","timestamp":null,` + ch + `}`, false},
		{"odd time", `{"type":"ChannelCreated","timestamp":"2026-11-21T16:09:35,000+0000",` + ch + `}`, true},
		{"bad time", `{"type":"ChannelCreated","timestamp":"2026-02-30T16:09:35.000+0000",` + ch + `}`, false},
		{"channel not an object", `{"type":"ChannelCreated",` + ts + `,"channel":"1.2"}`, false},
		{"trailing garbage", `{"type":"ChannelCreated",` + ts + `,` + ch + `}x`, false},
		{"type nested first", `{"x":{"type":"Dial"},"type":"ChannelCreated",` + ts + `,` + ch + `}`, false},
		{"truncated", `{"type":"ChannelCreated",` + ts + `,` + ch, false},
		{"key object", `{"type":"ChannelCreated",` + ts + `,"channel":{"id":"1","key":{"kind":"channel"}}}`, false},
		{"unknown type", `{"type":"ChannelNew",` + ts + `}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			ev, ok, err := d.Decode([]byte(tt.raw))
			wev, wok, werr := Decode([]byte(tt.raw))
			if diff := sameDecode(ev, ok, err, wev, wok, werr); diff != "" {
				t.Errorf("%s\n%s", diff, tt.raw)
			}
			if fast := d.Fallbacks == 0; fast != tt.fast {
				t.Errorf("decided by the fast path: %v, want %v", fast, tt.fast)
			}
		})
	}
}

// FuzzDecoder compares the Decoder with Decode (ari/v5's decoder, then
// Map) on arbitrary input: the same event, the same verdict, never a panic.
func FuzzDecoder(f *testing.F) {
	lines := recordingLines(f)
	seen := map[string]bool{}
	for _, l := range lines {
		// One message of each type and size class is enough to start from.
		k := fmt.Sprintf("%s/%d", typeOf(l), len(l)/256)
		if !seen[k] {
			seen[k] = true
			f.Add(l)
		}
	}
	f.Add([]byte(`{"type":"ChannelCreated","timestamp":"2026-11-21T16:09:35.000+0000","channel":null}`))
	f.Add([]byte(`{"type":"Dial","peer":{"id":"1"},"caller":{"id":"2","caller":{"name":null}}}`))
	var d Decoder
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, ok, err := d.Decode(raw)
		wev, wok, werr := Decode(raw)
		if diff := sameDecode(ev, ok, err, wev, wok, werr); diff != "" {
			t.Fatalf("%s\n%q", diff, raw)
		}
	})
}

func typeOf(line []byte) string {
	t, _ := stringAfter(line, typeKey)
	return string(t)
}

// TestMapReadsOnlyFilledFields guards the Decoder against drift from
// map.go: the Decoder fills only the fields in filledFields, so Map must
// not depend on any other. Every other field of every recorded event is
// set to something else in turn, and Map's answer must not change. When
// this fails, Map has started to read the named field: fill it in the
// Decoder and list it in filledFields.
func TestMapReadsOnlyFilledFields(t *testing.T) {
	checked := 0
	for _, l := range recordingLines(t) {
		if useless(l) {
			continue
		}
		e, err := ari.DecodeEvent(l)
		if err != nil {
			t.Fatal(err)
		}
		want, wok := Map(e)
		v := reflect.ValueOf(e).Elem()
		for _, p := range unfilled(v, "") {
			c := reflect.New(v.Type())
			c.Elem().Set(v)
			perturb(fieldAt(c.Elem(), p))
			got, ok := Map(c.Interface().(ari.Event))
			if ok != wok || (ok && !reflect.DeepEqual(got, want)) {
				t.Fatalf("Map reads %s.%s, which the Decoder does not fill", v.Type().Name(), p)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing perturbed")
	}
}

// unfilled lists the paths of the leaf fields of struct v not named in
// filledFields, descending into the filled struct fields.
func unfilled(v reflect.Value, prefix string) []string {
	var out []string
	typ := v.Type()
	filled := map[string]bool{}
	for _, f := range filledFields[typ.Name()] {
		filled[f] = true
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		path := prefix + f.Name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		_, known := filledFields[ft.Name()]
		switch {
		case ft.Kind() == reflect.Struct && known && (filled[f.Name] || filledFields[typ.Name()] == nil || f.Anonymous || isChannelOrBridge(ft)):
			// A struct the Decoder fills: look inside (through a nil
			// pointer too, by giving it a value).
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					fv = reflect.New(ft)
				}
				fv = fv.Elem()
			}
			if f.Anonymous {
				out = append(out, unfilled(fv, prefix)...)
			} else {
				out = append(out, unfilled(fv, path+".")...)
			}
		case !filled[f.Name]:
			out = append(out, path)
		}
	}
	return out
}

func isChannelOrBridge(t reflect.Type) bool {
	return t == reflect.TypeFor[ari.ChannelData]() || t == reflect.TypeFor[ari.BridgeData]()
}

// fieldAt finds the field at path, allocating nil pointers on the way.
func fieldAt(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.FieldByName(name)
	}
	return v
}

func perturb(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "·changed")
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 7)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("CHANGED"), reflect.ValueOf("1"))
		v.Set(m)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[ari.DateTime]() {
			v.Set(reflect.ValueOf(ari.DateTime(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))))
		}
	}
}

// TestParseTime: the direct reading of Asterisk's timestamps equals
// time.Parse's, location included.
func TestParseTime(t *testing.T) {
	var c timeCache
	for _, s := range parseTimeCases {
		checkParseTime(t, &c, s)
	}
	// time.Parse prefers the local zone when it has the offset: the same
	// must come out where that is not UTC, across a change of summer time.
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = hel
	c = timeCache{} // what it holds was read in the old zone
	for _, s := range append(parseTimeCases, "2026-03-29T00:59:59.999+0000", "2026-03-29T01:00:00.000+0000",
		"2026-03-29T03:59:59.999+0200", "2026-03-29T04:00:00.000+0300", "2026-10-25T03:30:00.000+0300",
		"2026-10-25T03:30:00.000+0200", "2026-07-01T12:00:00.000+0200") {
		checkParseTime(t, &c, s)
	}
}

// A timestamp at an offset the local zone does not have reads into one
// shared location per offset, without allocating.
func TestParseTimeSharesFixedZones(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC
	a, okA := parseCanonicalTime([]byte("2026-11-21T16:09:34.505+0545"))
	b, okB := parseCanonicalTime([]byte("2026-11-22T08:00:00.000+0545"))
	if !okA || !okB || a.Location() != b.Location() {
		t.Fatalf("two times at +0545: locations %p and %p (%v, %v)", a.Location(), b.Location(), okA, okB)
	}
	raw := []byte("2026-11-21T16:09:35.505-0330")
	if n := testing.AllocsPerRun(100, func() { parseCanonicalTime(raw) }); n != 0 {
		t.Errorf("reading a time at -0330 allocates %v times, want 0", n)
	}
}

var parseTimeCases = []string{
	"2026-11-21T16:09:34.505+0000", "2026-11-21T16:09:34.505-0000", "2026-11-21T16:09:34.505+0200",
	"2026-11-21T16:09:34.505-0530", "2024-02-29T23:59:59.999+1400", "0000-01-01T00:00:00.000+0000",
	"9999-12-31T23:59:59.999-2359", "2026-11-21T16:09:34,505+0000", "2026-02-29T16:09:34.505+0000",
	"2026-11-21T16:09:34.505+2400", "2026-11-21T24:09:34.505+0000", "2026-11-21T16:09:34.505Z",
	"2026-11-21T16:09:34.5+0000", "2026-11-21T16:09:34+0000", "", "yesterday", "2026-11-21T1:09:34.505+0000",
	"2026-11-21T16:09:34.505+0200", "1970-01-01T00:00:00.000+0000", "1969-12-31T23:59:59.999+0000",
	"0000-02-29T00:00:00.000+0000", "0001-01-01T00:00:00.000+0100", "2100-02-29T00:00:00.000+0000",
}

// checkParseTime compares parseTime with time.Parse, and so c's answer
// when it reads s for the first time and again from memory.
func checkParseTime(t *testing.T, c *timeCache, s string) {
	t.Helper()
	want, err := time.Parse(ari.DateFormat, s)
	for _, p := range []struct {
		name  string
		parse func([]byte) (time.Time, bool)
	}{{"parseTime", parseTime}, {"timeCache.parse", c.parse}, {"timeCache.parse again", c.parse}} {
		got, ok := p.parse([]byte(s))
		if ok != (err == nil) || (ok && (!reflect.DeepEqual(got, want) || got.String() != want.String())) {
			t.Errorf("%s(%q) = %v, %v; time.Parse gives %v, %v", p.name, s, got, ok, want, err)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-21T16:09:34.505+0000", "2026-11-21T16:09:34.505-0530", "2024-02-29T23:59:59.999+1400"} {
		f.Add(s)
	}
	var c timeCache // shared, so that different times meet in its slots
	f.Fuzz(func(t *testing.T, s string) { checkParseTime(t, &c, s) })
}

// The skipped messages' glance at their timestamp reads what a full decode
// reads.
func TestSkippedTimestamp(t *testing.T) {
	var d Decoder
	n := 0
	for _, l := range recordingLines(t) {
		_, ok, at, err := d.decode(l)
		if err != nil || ok {
			continue
		}
		var v struct {
			Timestamp ari.DateTime `json:"timestamp"`
		}
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatal(err)
		}
		if want := time.Time(v.Timestamp); !reflect.DeepEqual(at, want) {
			t.Fatalf("skipped message read at %v, want %v: %s", at, want, l)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no message skipped")
	}
}

// The Decoder's switch on the event type knows exactly the types Map uses.
func TestEventTypesAreMapped(t *testing.T) {
	for name := range mapped {
		if eventType([]byte(name)) == tNone {
			t.Errorf("%s is mapped but has no schema", name)
		}
	}
	if n := int(tChannelDtmfReceived); n != len(mapped) {
		t.Errorf("%d event types with a schema, %d mapped", n, len(mapped))
	}
}

// FuzzGlance: what glance reports of a message is what a search for the
// first `"key":"` finds, so the glance can stand in for the searches
// (useless, the skipped messages' timestamp, the takeover check).
func FuzzGlance(f *testing.F) {
	for _, l := range recordingLines(f)[:40] {
		f.Add(l)
	}
	f.Add([]byte(`{"variable":"a\"type\":\"x","type":"Dial"}`))
	f.Add([]byte(`{"variable":"a` + "\x01" + `","type":"Dial"}`))
	f.Add([]byte(`{"cause":16,"soft":true,"x":null,"type":"ChannelHangupRequest","timestamp":"t"}`))
	f.Add([]byte(`{"type":16,"x":-1.5e3,"type":"Dial"}`))
	f.Add([]byte(`{"cause":{"type":"Dial"},"type":"ChannelHangupRequest"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		g := glance(raw)
		for _, k := range []struct {
			bit   uint8
			key   []byte
			found []byte
		}{{keyType, typeKey, g.typ}, {keyVariable, variableKey, g.variable}, {keyTimestamp, timestampKey, g.ts}} {
			if !g.has(k.bit) {
				continue
			}
			if v, ok := stringAfter(raw, k.key); !ok || !bytes.Equal(v, k.found) {
				t.Fatalf("glance found %s%s, the search %q (%v)\n%q", k.key, k.found, v, ok, raw)
			}
		}
	})
}

// TestChannelMemo: channel objects met again are served from the memo,
// and only an object identical to the one remembered is: a change
// anywhere in it, or after it, is read afresh.
func TestChannelMemo(t *testing.T) {
	const ts = `"timestamp":"2026-11-21T16:09:35.000+0000"`
	ch := func(state string) string {
		return `"channel":{"id":"1795277927.34","name":"PJSIP/101-00000001","state":"` + state +
			`","caller":{"name":"A","number":"101"},"connected":{"name":"","number":""},` +
			`"dialplan":{"context":"internal","exten":"102","priority":1,"app_name":"Dial","app_data":""},` +
			`"creationtime":"2026-11-21T16:09:34.505+0000","language":"en"}`
	}
	msg := func(typ, state, tail string) []byte {
		return []byte(`{"type":"` + typ + `",` + ts + `,` + ch(state) + tail + `}`)
	}
	var d Decoder
	for _, raw := range [][]byte{
		msg("ChannelCreated", "Ring", ""),
		msg("ChannelStateChange", "Ring", ""),
		msg("ChannelStateChange", "Up", ""),
		msg("ChannelStateChange", "Ring", ""),
		msg("ChannelStateChange", "Up", `,"x":`),
		msg("ChannelStateChange", "Up", `,`+ch("Down")),
		[]byte(`{"type":"Dial",` + ts + `,"peer":` + ch("Up")[len(`"channel":`):] + `,"caller":` + ch("Up")[len(`"channel":`):] + `}`),
		msg("ChannelDestroyed", "Up", `,"cause":16`),
	} {
		ev, ok, err := d.Decode(raw)
		wev, wok, werr := Decode(raw)
		if diff := sameDecode(ev, ok, err, wev, wok, werr); diff != "" {
			t.Errorf("%s\n%s", diff, raw)
		}
	}
	if d.Fallbacks != 2 { // the trailing key and the repeated channel
		t.Errorf("%d fallbacks, want 2", d.Fallbacks)
	}

	// What the memo holds is what a repeat reads as.
	raw := msg("ChannelStateChange", "Up", "")
	if ev, _, _ := d.Decode(raw); ev.Channel.Name != "PJSIP/101-00000001" {
		t.Fatalf("read %q", ev.Channel.Name)
	}
	for i := range d.memo.channels.slots {
		d.memo.channels.slots[i].v.cd.Name = "from the memo"
	}
	if ev, _, _ := d.Decode(raw); ev.Channel.Name != "from the memo" {
		t.Errorf("a repeated channel was read afresh (%q)", ev.Channel.Name)
	}
	if ev, _, _ := d.Decode(msg("ChannelStateChange", "Down", "")); ev.Channel.Name != "PJSIP/101-00000001" {
		t.Errorf("a changed channel was served from the memo (%q)", ev.Channel.Name)
	}

	// So do the caller ids and dialplan positions of a changed channel.
	for i := range d.memo.callers.slots {
		d.memo.callers.slots[i].v.Name = "caller from the memo"
	}
	for i := range d.memo.dialplan.slots {
		d.memo.dialplan.slots[i].v.cep.Context = "context from the memo"
	}
	ev, _, _ := d.Decode(msg("ChannelStateChange", "Busy", ""))
	if ev.Channel.CallerName != "caller from the memo" || ev.Channel.Context != "context from the memo" {
		t.Errorf("a changed channel's caller id and dialplan were read afresh (%q, %q)", ev.Channel.CallerName, ev.Channel.Context)
	}
	raw = bytes.Replace(msg("ChannelStateChange", "Busy", ""), []byte(`"name":"A"`), []byte(`"name":"B"`), 1)
	raw = bytes.Replace(raw, []byte(`"priority":1`), []byte(`"priority":2`), 1)
	if ev, _, _ := d.Decode(raw); ev.Channel.CallerName != "B" || ev.Channel.Context != "internal" {
		t.Errorf("a changed caller id or dialplan was served from the memo (%q, %q)", ev.Channel.CallerName, ev.Channel.Context)
	}
}
