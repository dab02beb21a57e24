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
// identity and by what the PBX is doing for each caller (link.go), through
// indexes, so thousands of open dialogs cost no more per message than a
// few (index.go). Transfers are read from REFER (blind, or attended with
// Replaces) and, for PBX-driven attended transfers that put nothing
// transfer-shaped on the wire, inferred from the transferer hanging up
// while a consultation leg placed on its behalf is live (transfer.go,
// consult.go). Pickups and parked-call retrievals are read from the PBX
// presenting a phone it answered itself the caller it hands it (meet).
//
// Who is the PBX and who is a trunk comes from the configuration or is
// learnt from the traffic (learn.go). Every time comes from the messages'
// capture times; timeouts run on a clock that one packet with a wrong time
// cannot move for anyone else (clock.go).
//
// Each message is read into a record of just what the tracker uses
// (parse.go): by the tracker's own parser for the everyday messages it is
// certain of (quick.go), by sipgo for the rest, on a copy without the
// headers the tracker never reads (slim.go); tests hold the three ways
// to the same record.
//
// The Tracker is not safe for concurrent use; one goroutine feeds it in the
// order the messages were captured.
package dialog
