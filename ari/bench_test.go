package ari

import (
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/internal/wsclient"
	"github.com/callbridge/callbridge/bridge"
)

// The benchmarks play every recording back to back (7,436 messages; three
// of four are of a kind the engine does not use, as on a busy PBX). Each
// reports ns/msg; compare the sub-benchmarks of one run, not figures from
// different runs or machines.

// BenchmarkDecode compares ways of turning a message into a bridge event:
// v5 is the old path (ari/v5's DecodeEvent, which decodes every message
// twice, then Map); json-once is encoding/json decoding once into a struct
// of just the fields Map reads, the best encoding/json can do; fast is the
// Decoder the daemon uses.
func BenchmarkDecode(b *testing.B) {
	lines := recordingLines(b)
	run := func(b *testing.B, decode func([]byte) (bridge.Event, bool, error)) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, err := decode(lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
	}
	b.Run("v5", func(b *testing.B) { run(b, Decode) })
	b.Run("json-once", func(b *testing.B) { run(b, decodeJSONOnce) })
	b.Run("fast", func(b *testing.B) {
		var d Decoder
		run(b, d.Decode)
	})
}

// BenchmarkDecodeEngine is decoding and the engine: replay's path.
func BenchmarkDecodeEngine(b *testing.B) {
	lines := recordingLines(b)
	run := func(b *testing.B, decode func([]byte) (bridge.Event, bool, error)) {
		e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ev, ok, err := decode(lines[i%len(lines)])
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				e.Apply(ev)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	}
	b.Run("v5", func(b *testing.B) { run(b, Decode) })
	b.Run("fast", func(b *testing.B) {
		var d Decoder
		run(b, d.Decode)
	})
}

// BenchmarkLive is the live source's own loop, the code the daemon runs:
// websocket frames read out of a connection (served from memory, so no
// system calls), Source.pump, Source.handle with its metrics, the Decoder,
// and the engine as out. The daemon's out adds the journal, the sink and
// delivery (internal/pipeline). ns/msg is per websocket message, ns/event
// per event passed to the engine (about one message in four); compare
// with the BenchmarkLive of ari/ami and sip/hep.
func BenchmarkLive(b *testing.B) {
	lines := recordingLines(b)
	var stream []byte
	for _, l := range lines {
		stream = appendTextFrame(stream, l)
	}
	src, err := NewSource(Config{Username: "u", Password: "p", Logger: zerolog.Nop()}, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	msgs, events := 0, 0
	for b.Loop() {
		e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
		ws := wsclient.Client(&memConn{data: stream}, nil, wsclient.Options{MaxMessage: maxLine})
		if err := src.pump(ws, func(ev bridge.Event) { events++; e.Apply(ev) }); err == nil {
			b.Fatal("pump ended without the end of the stream")
		}
		e.Flush(time.Time{})
		msgs += len(lines)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	if n := src.dec.Fallbacks; n != 0 {
		b.Fatalf("%d messages left to ari/v5", n)
	}
}

// BenchmarkEngine measures the engine alone on pre-decoded events.
func BenchmarkEngine(b *testing.B) {
	var evs []bridge.Event
	for _, l := range recordingLines(b) {
		if ev, ok, err := Decode(l); err == nil && ok {
			evs = append(evs, ev)
		}
	}
	e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Apply(evs[i%len(evs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func appendTextFrame(b, payload []byte) []byte {
	b = append(b, 0x81)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}

// memConn serves data as a socket would, in reads of at most 64 KiB.
type memConn struct {
	data []byte
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return nil }
func (c *memConn) RemoteAddr() net.Addr             { return nil }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// decodeJSONOnce is the encoding/json baseline of BenchmarkDecode: the same
// skip of unused messages, then one json.Unmarshal into the union of the
// fields Map reads, turned into the typed event and mapped.
func decodeJSONOnce(raw []byte) (bridge.Event, bool, error) {
	if useless(raw) {
		return bridge.Event{}, false, nil
	}
	var m struct {
		Type                string          `json:"type"`
		Timestamp           ari.DateTime    `json:"timestamp"`
		Channel             ari.ChannelData `json:"channel"`
		Caller              ari.ChannelData `json:"caller"`
		Peer                ari.ChannelData `json:"peer"`
		Transferee          ari.ChannelData `json:"transferee"`
		TransferTarget      ari.ChannelData `json:"transfer_target"`
		TransfererFirstLeg  ari.ChannelData `json:"transferer_first_leg"`
		TransfererSecondLeg ari.ChannelData `json:"transferer_second_leg"`
		Bridge              ari.BridgeData  `json:"bridge"`
		Dialstatus          string          `json:"dialstatus"`
		Dialstring          string          `json:"dialstring"`
		Forward             string          `json:"forward"`
		Digit               string          `json:"digit"`
		Context             string          `json:"context"`
		Exten               string          `json:"exten"`
		Result              string          `json:"result"`
		Variable            string          `json:"variable"`
		Value               string          `json:"value"`
		Cause               int             `json:"cause"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return bridge.Event{}, false, err
	}
	ed := ari.EventData{Type: m.Type, Timestamp: m.Timestamp}
	var e ari.Event
	switch m.Type {
	case "ChannelCreated":
		e = &ari.ChannelCreated{EventData: ed, Channel: m.Channel}
	case "ChannelStateChange":
		e = &ari.ChannelStateChange{EventData: ed, Channel: m.Channel}
	case "ChannelConnectedLine":
		e = &ari.ChannelConnectedLine{EventData: ed, Channel: m.Channel}
	case "Dial":
		e = &ari.Dial{EventData: ed, Caller: m.Caller, Peer: m.Peer, Dialstatus: m.Dialstatus, Dialstring: m.Dialstring, Forward: m.Forward}
	case "ChannelEnteredBridge":
		e = &ari.ChannelEnteredBridge{EventData: ed, Bridge: m.Bridge, Channel: m.Channel}
	case "ChannelLeftBridge":
		e = &ari.ChannelLeftBridge{EventData: ed, Bridge: m.Bridge, Channel: m.Channel}
	case "BridgeBlindTransfer":
		e = &ari.BridgeBlindTransfer{EventData: ed, Channel: m.Channel, Transferee: m.Transferee, Context: m.Context, Exten: m.Exten, Result: m.Result}
	case "BridgeAttendedTransfer":
		e = &ari.BridgeAttendedTransfer{EventData: ed, TransfererFirstLeg: m.TransfererFirstLeg, Transferee: m.Transferee,
			TransfererSecondLeg: m.TransfererSecondLeg, TransferTarget: m.TransferTarget, Result: m.Result}
	case "ChannelVarset":
		e = &ari.ChannelVarset{EventData: ed, Channel: m.Channel, Variable: m.Variable, Value: m.Value}
	case "ChannelHangupRequest":
		e = &ari.ChannelHangupRequest{EventData: ed, Channel: m.Channel, Cause: m.Cause}
	case "ChannelDestroyed":
		e = &ari.ChannelDestroyed{EventData: ed, Channel: m.Channel, Cause: m.Cause}
	case "ChannelDtmfReceived":
		e = &ari.ChannelDtmfReceived{EventData: ed, Channel: m.Channel, Digit: m.Digit}
	default:
		return bridge.Event{}, false, nil
	}
	ev, ok := Map(e)
	if ok {
		dialledApps(raw, &ev)
	}
	return ev, ok, nil
}

// The encoding/json baseline must give the same events, or the comparison
// means nothing.
func TestDecodeJSONOnceAgrees(t *testing.T) {
	var d Decoder
	for _, l := range recordingLines(t) {
		ev, ok, err := decodeJSONOnce(l)
		wev, wok, werr := d.Decode(l)
		if diff := sameDecode(ev, ok, err, wev, wok, werr); diff != "" {
			t.Fatalf("%s\n%s", diff, l)
		}
	}
}
