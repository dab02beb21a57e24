// Package ami attaches callbridge to the Asterisk Manager Interface, for
// installations (FreePBX and others) that expose AMI rather than ARI.
//
// It frames the raw AMI byte stream into messages (parsed with
// github.com/staskobzar/goami2), maps the call-signalling events among them
// to the engine's source-neutral bridge.Event, replays recorded AMI streams
// (the ami.txt format: banner, Login response, events, CRLF untouched) and
// runs the live client: dialling, plain or MD5 login, keepalive, reconnect
// with backoff and a CoreShowChannels resync after every connect.
//
// The same call observed over ARI (package ari) and over AMI must give the
// same activities, so the mapping here mirrors ari.Map field for field.
package ami
