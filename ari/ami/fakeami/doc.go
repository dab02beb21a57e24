// Package fakeami is an in-test Asterisk Manager Interface server. It
// listens on 127.0.0.1:0 and replays the events of a recorded ami.txt to a
// client that logs in (plain secret or MD5 challenge), answers Ping and
// CoreShowChannels from the channel state the events played so far imply,
// and can drop a connection mid-call, lose the events of the gap, and refuse
// reconnects, so that reconnect and resync can be tested against something
// that behaves like Asterisk.
//
// Action: Originate (click-to-dial) is answered as the lab's Asterisk 22
// did (testdata/lab/ami_click_to_dial_*): Error for a channel without
// technology, a context it does not have or a synchronous originate it
// cannot make; an asynchronous one is queued and then fails with an
// OriginateResponse Reason 0 (an endpoint it does not have or that is not
// registered), or plays a recorded originate rewritten for the action.
// Its events, OriginateResponse included, go to every session logged in
// with events on, and to no session with events off.
package fakeami
