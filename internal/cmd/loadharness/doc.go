// Command loadharness measures the dialplan API under an open-loop load:
// GET /api/route, GET /api/lookup and GET /api/callername (the last two
// also with the national form of the number) and GET /healthz of one
// callbridge process, with a million numbers in its phone index, each
// endpoint at -rate requests per second for -duration, in turns of -slice
// so that the machine's other work falls on all of them alike. With -slice 0
// there are no turns: the -rate requests per second go to the endpoints in
// rotation, one each, so every endpoint meets the same moments of the
// machine (each then gets -rate divided by the endpoints, for -duration
// times the endpoints in all). Requests leave on
// schedule, not when an answer came back, and each latency is measured
// from the request's scheduled time, so a stall shows in full (no
// coordinated omission). It prints p50, p99 and p99.9 of each endpoint and
// their ratios to /healthz, with the machine it ran on.
//
// It is not part of the tests. Run it from the module root:
//
//	go run ./internal/cmd/loadharness                 # 10,000/s, 30 s each, 1,000,000 numbers
//	go run ./internal/cmd/loadharness -rate 2000 -duration 5s -numbers 100000
//	go run ./internal/cmd/loadharness -slice 0          # 10,000/s in all, endpoints in rotation
//
// The daemon is the real binary (built from ./cmd/callbridge unless -bin
// names one), a process of its own, following a fake Asterisk and a fake
// Dataverse that live in the harness. The index is written to the
// daemon's state directory before it starts, as a previous sync would
// have left it, so the run does not wait for a million-record sync.
package main
