// Package dialog turns a stream of SIP messages seen beside a PBX (mirrored
// as HEP or captured on the wire) into the source-neutral channel events of
// package bridge, so the one call-state engine gives the same activities
// from SIP as from ARI or AMI.
//
// Each INVITE dialog between the PBX and a device or trunk is one channel
// ("leg"). Legs the PBX receives are the calling side (state Ring, Exten =
// the dialled number); legs the PBX places are dialled channels (state
// Down, then Ringing at 18x and Up at 2xx), announced with a Dial event
// from the leg they were placed for. The PBX is a back-to-back user agent,
// so the two sides of one call have unrelated Call-IDs: the Tracker links
// them by the HEP correlation id when it names another dialog, else by
// identity and timing (see link). Transfers are read from REFER (blind, or
// attended with Replaces) and, for PBX-driven attended transfers that put
// nothing transfer-shaped on the wire, inferred from the transferer hanging
// up while a consultation leg placed on its behalf is live.
//
// The Tracker is not safe for concurrent use; one goroutine feeds it in the
// order the messages were captured.
package dialog
