package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/sip/pcap"
)

// replayCmd feeds a recording through the same decoding and engine as the
// live sources and prints one activity per line.
func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("replay", stderr)
	ariFile := fs.String("ari", "", "an ari.jsonl recording (ARI events websocket, one message per line)")
	amiFile := fs.String("ami", "", "a raw AMI stream recording (ami.txt)")
	pcapFile := fs.String("pcap", "", "a pcap of SIP, plain or HEP-encapsulated")
	cfgFile := fs.String("config", "", "take users, trunks, extension pattern and region from this config file")
	all := fs.Bool("all", false, "also print activities not written by default (answered elsewhere)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var source, file string
	for _, s := range []struct{ name, file string }{{"ari", *ariFile}, {"ami", *amiFile}, {"sip", *pcapFile}} {
		if s.file == "" {
			continue
		}
		if file != "" {
			fmt.Fprintln(stderr, "callbridge replay: give one of --ari, --ami, --pcap")
			return errUsage
		}
		source, file = s.name, s.file
	}
	if file == "" {
		fmt.Fprintln(stderr, "callbridge replay: give one of --ari, --ami, --pcap")
		return errUsage
	}

	ec := bridge.Config{Trunks: []string{"pstn"}}
	var norm phone.Normalizer
	if *cfgFile != "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		ec, norm = cfg.EngineConfig(), cfg.Normalizer()
	}
	ec.Source = source

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()

	enc := json.NewEncoder(stdout)
	var werr error
	hidden := 0
	p := pipeline.New(ec, norm, func(a bridge.Activity) {
		if a.Reason == bridge.ReasonAnsweredElsewhere && !*all {
			hidden++
			return
		}
		if err := enc.Encode(a); err != nil && werr == nil {
			werr = err
		}
	}, nil)

	var bad int
	var problems []string
	switch source {
	case "ari":
		st, err := ari.ReadRecording(f, p.Handle)
		if err != nil {
			return err
		}
		bad, problems = st.Malformed, st.Problems
	case "ami":
		st, err := ami.ReadRecording(f, p.Handle)
		if err != nil {
			return err
		}
		bad, problems = st.Malformed, st.Problems
	case "sip":
		st, err := pcap.ReadPcap(f, p.Handle)
		if err != nil {
			return err
		}
		bad, problems = st.Malformed, st.Problems
	}
	p.Flush()
	if bad > 0 {
		fmt.Fprintf(stderr, "callbridge replay: %s: %d malformed messages skipped\n", file, bad)
		for _, pr := range problems {
			fmt.Fprintln(stderr, "  ", pr)
		}
	}
	if hidden > 0 {
		fmt.Fprintf(stderr, "callbridge replay: %d answered-elsewhere activities not shown (--all shows them)\n", hidden)
	}
	return werr
}
