// Package fakeami is an in-test Asterisk Manager Interface server. It
// listens on 127.0.0.1:0 and replays the events of a recorded ami.txt to a
// client that logs in (plain secret or MD5 challenge), answers Ping and
// CoreShowChannels from the channel state the events played so far imply,
// and can drop a connection mid-call, lose the events of the gap, and refuse
// reconnects, so that reconnect and resync can be tested against something
// that behaves like Asterisk.
package fakeami
