package pipeline

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
)

// Source is the decode stage: an adapter that turns the PBX's own messages
// into bridge.Events (ari: the ARI events websocket; ari/ami: the AMI
// stream; sip/hep: SIP mirrored over HEP). Run blocks, handing events in
// order from one goroutine, reconnecting and reconciling with the PBX's
// channel list by itself, until ctx is done.
type Source interface {
	Run(ctx context.Context, out func(bridge.Event)) error
}
