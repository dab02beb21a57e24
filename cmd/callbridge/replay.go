package main

import (
	"fmt"
	"io"
	"time"

	"github.com/callbridge/callbridge/internal/app"
)

// replayCmd feeds a recording through the same decoding and engine as the
// live sources and prints one activity per line (see app.Replay).
func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("replay", stderr)
	ariFile := fs.String("ari", "", "an ari.jsonl recording (ARI events websocket, one message per line)")
	amiFile := fs.String("ami", "", "a raw AMI stream recording (ami.txt)")
	pcapFile := fs.String("pcap", "", "a pcap of SIP, plain or HEP-encapsulated")
	celFile := fs.String("cel", "", "a CEL CSV in the lab's cel_custom.conf layout (cel.csv)")
	celZone := fs.String("cel-time-zone", "UTC", "with --cel: the zone of event times written as dates (cel.conf dateformat); epoch times need none")
	cfgFile := fs.String("config", "", "take users, trunks, extension pattern, region, the policy and the sip section (pbx_addresses, trunk_addresses, conferences) from this config file")
	all := fs.Bool("all", false, "also print the activities that would not be sent, with the reason (not_sent)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var source, file string
	for _, s := range []struct{ name, file string }{{"ari", *ariFile}, {"ami", *amiFile}, {"sip", *pcapFile}, {"cel", *celFile}} {
		if s.file == "" {
			continue
		}
		if file != "" {
			fmt.Fprintln(stderr, "callbridge replay: give one of --ari, --ami, --pcap, --cel")
			return errUsage
		}
		source, file = s.name, s.file
	}
	if file == "" {
		fmt.Fprintln(stderr, "callbridge replay: give one of --ari, --ami, --pcap, --cel")
		return errUsage
	}
	zone, err := time.LoadLocation(*celZone)
	if err != nil {
		return fmt.Errorf("--cel-time-zone: %w", err)
	}

	return app.Replay(app.ReplayOptions{Source: source, File: file, Config: *cfgFile, All: *all, CELZone: zone}, stdout, stderr)
}
