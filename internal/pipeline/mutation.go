package pipeline

import "sync/atomic"

// mutation breaks a guarantee on purpose, to prove that the process-level
// fault suite (internal/faulttest) notices: the suite links a callbridge
// binary with
//
//	go build -ldflags "-X github.com/callbridge/callbridge/internal/pipeline.mutation=nojournal"
//
// and requires that run to fail. It is empty in every other build; no
// configuration key, flag or environment variable reaches it.
//
//	nojournal   the crash journal is neither written nor read
//	skipqueue16 the queue stage drops every 16th activity it should queue
var mutation string

var (
	journalOff = mutation == "nojournal"
	skipQueue  = mutation == "skipqueue16"
	queued     atomic.Uint64
)

// skipThis tells the skipqueue16 mutation's queue stage to drop this
// activity.
func skipThis() bool { return skipQueue && queued.Add(1)%16 == 0 }
