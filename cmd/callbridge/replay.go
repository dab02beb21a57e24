package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/callbridge/callbridge/internal/app"
)

// replayCommand feeds a recording through the same decoding and engine as
// the live sources and prints one activity per line (see app.Replay).
var replayCommand = &command{
	name: "replay", args: "(--ari FILE | --ami FILE | --pcap FILE | --cel FILE)",
	brief: "Print the activities of a recording as JSON lines.",
	about: `Feeds a recording through the same decoding and engine as the live
sources and prints one activity per line, as the webhook would receive it.
Give exactly one recording. With --config its users, trunks, extension
pattern, region and policy apply, and the activities the policy would not
send are left out (--all shows them, with not_sent set to the reason).
Malformed lines are counted and skipped.`,
	setup: func(fs *flag.FlagSet) action {
		ariFile := fs.String("ari", "", "an ari.jsonl recording `FILE` (ARI events websocket, one message per line)")
		amiFile := fs.String("ami", "", "a raw AMI stream recording `FILE` (ami.txt)")
		pcapFile := fs.String("pcap", "", "a pcap `FILE` of SIP, plain or HEP-encapsulated")
		celFile := fs.String("cel", "", "a CEL CSV `FILE` in the lab's cel_custom.conf layout (cel.csv)")
		celZone := fs.String("cel-time-zone", "UTC", "with --cel: the `ZONE` of event times written as dates (cel.conf dateformat); epoch times need none")
		cfgFile := fs.String("config", "", "take users, trunks, extension pattern, region, the policy and the sip section (pbx_addresses, trunk_addresses, conferences) from this configuration `FILE`")
		all := fs.Bool("all", false, "also print the activities that would not be sent, with the reason (not_sent)")
		return func(_ context.Context, _ []string, stdout, stderr io.Writer) error {
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
	},
}
