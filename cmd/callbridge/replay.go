package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/boltstore"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/pcap"
)

// replayCmd feeds a recording through the same decoding and engine as the
// live sources and prints one activity per line.
func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("replay", stderr)
	ariFile := fs.String("ari", "", "an ari.jsonl recording (ARI events websocket, one message per line)")
	amiFile := fs.String("ami", "", "a raw AMI stream recording (ami.txt)")
	pcapFile := fs.String("pcap", "", "a pcap of SIP, plain or HEP-encapsulated")
	cfgFile := fs.String("config", "", "take users, trunks, extension pattern, region, the policy and the sip section (pbx_addresses, trunk_addresses, conferences) from this config file")
	all := fs.Bool("all", false, "also print the activities that would not be sent, with the reason (not_sent)")
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
	var dc dialog.Config // the SIP tracker's: sip.pbx_addresses, sip.trunk_addresses, … as `run` takes them
	var norm phone.Normalizer
	// Without a config no policy applies, except that answered-elsewhere
	// legs are not sent; with one, its policy decides, against a scratch
	// store (the start margin compares with what this replay accepted).
	decide := func(a bridge.Activity) string {
		if a.Reason == bridge.ReasonAnsweredElsewhere {
			return crmsync.DropAnsweredElsewhere
		}
		return ""
	}
	if *cfgFile != "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		ec, dc, norm = cfg.EngineConfig(), cfg.DialogConfig(), cfg.Normalizer()
		dir, err := os.MkdirTemp("", "callbridge-replay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		store, err := boltstore.Open(dir, boltstore.Options{})
		if err != nil {
			return err
		}
		defer store.Close()
		pol, err := crmsync.NewPolicy(cfg.Policy, store, nil)
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		decide = func(a bridge.Activity) string {
			ok, reason, err := pol.Decide(context.Background(), a)
			if err != nil {
				return "error: " + err.Error()
			}
			if ok {
				return ""
			}
			return reason
		}
	}
	ec.Source = source

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()

	var werr error
	notSent := map[string]int{}
	p := pipeline.New(ec, norm, func(a bridge.Activity) {
		reason := decide(a)
		if reason != "" {
			notSent[reason]++
			if !*all {
				return
			}
		}
		if err := writeActivity(stdout, a, reason); err != nil && werr == nil {
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
		st, err := pcap.Read(f, dc, p.Handle)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
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
	if len(notSent) > 0 {
		reasons := make([]string, 0, len(notSent))
		for r, n := range notSent {
			reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(reasons)
		verb := "not shown (--all shows them)"
		if *all {
			verb = "shown with not_sent"
		}
		fmt.Fprintf(stderr, "callbridge replay: activities that would not be sent: %s; %s\n", strings.Join(reasons, ", "), verb)
	}
	return werr
}

// writeActivity prints one activity as a JSON line, with not_sent set to
// the policy's reason when it would not be sent.
func writeActivity(w io.Writer, a bridge.Activity, notSent string) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if notSent != "" {
		r, _ := json.Marshal(notSent)
		b = append(append(append(b[:len(b)-1], `,"not_sent":`...), r...), '}')
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
