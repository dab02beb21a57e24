package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/pcap"
)

// ReplayOptions say what `callbridge replay` replays.
type ReplayOptions struct {
	Source string // ari, ami, sip or cel
	File   string // the recording: ari.jsonl, ami.txt, a pcap (plain or HEP), or a cel_custom CSV
	// CELZone is the zone of CEL event times written as dates (nil: UTC).
	CELZone *time.Location
	// Config, if set, gives the users, trunks, extension pattern, region
	// and the policy.
	Config string
	// All also prints the activities that would not be sent, with the
	// reason (not_sent).
	All bool
}

// Replay feeds a recording through the same decoding and engine as the
// live sources and writes one activity per line to stdout; problems and
// counts go to stderr.
func Replay(opts ReplayOptions, stdout, stderr io.Writer) error {
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
	if opts.Config != "" {
		cfg, err := config.Load(opts.Config)
		if err != nil {
			return err
		}
		ec, dc, norm = cfg.EngineConfig(), cfg.DialogConfig(), cfg.Normalizer()
		dir, err := os.MkdirTemp("", "callbridge-replay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		store, err := bolt.Open(dir, bolt.Options{})
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
	ec.Source = opts.Source
	// A user whose phone forwarded the call has no activity; --all shows
	// it, with the reason.
	ec.ShowForwarded = opts.All

	f, err := os.Open(opts.File)
	if err != nil {
		return err
	}
	defer f.Close()

	var werr error
	notSent := map[string]int{}
	p := pipeline.NewEngine(ec, norm, func(a bridge.Activity) {
		reason := decide(a)
		if a.Reason == bridge.ReasonForwarded {
			reason = string(bridge.ReasonForwarded)
		}
		if reason != "" {
			notSent[reason]++
			if !opts.All {
				return
			}
		}
		if err := writeActivity(stdout, a, reason); err != nil && werr == nil {
			werr = err
		}
	}, nil)

	var bad int
	var problems []string
	switch opts.Source {
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
			return fmt.Errorf("%s: %w", opts.File, err)
		}
		bad, problems = st.Malformed, st.Problems
	case "cel":
		zone := opts.CELZone
		if zone == nil {
			zone = time.UTC
		}
		st, err := cel.ReadRecording(f, zone, p.Handle)
		if err != nil {
			return err
		}
		bad, problems = st.Malformed, st.Problems
	}
	p.Flush()
	if bad > 0 {
		fmt.Fprintf(stderr, "callbridge replay: %s: %d malformed messages skipped\n", opts.File, bad)
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
		if opts.All {
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
