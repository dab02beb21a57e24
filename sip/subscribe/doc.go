// Package subscribe watches extensions through RFC 4235 dialog-event
// subscriptions (SUBSCRIBE with "Event: dialog", the mechanism behind
// busy-lamp fields) and reports what the PBX's NOTIFYs say as live
// transitions: a user's phone ringing, talking, hung up. They are meant
// for screen pops and agent panels.
//
// It produces no activities. Dialog-info tells neither who transferred
// whom nor why a call ended, and Asterisk keys it by extension, not by
// call, so activities come from HEP, ARI or AMI only, never from
// dialog-info alone.
//
// One Subscriber keeps a subscription per monitored extension: it
// answers digest challenges, refreshes at 80 % of the granted duration,
// starts over with backoff when a subscription fails (an error response,
// a timeout, a 481 to a refresh, or a NOTIFY with Subscription-State
// terminated), answers every NOTIFY (481 when it belongs to no
// subscription of ours) and unsubscribes when Run returns.
//
// Asterisk (chan_pjsip) writes one dialog per extension, with id = the
// extension and no call-id, in state early (ringing), confirmed (in use,
// busy, on hold) or terminated (idle). The caller's identity is included
// only while ringing, when Asterisk finds the ringing channel through the
// hint; with chan_sip it needs notifycid=yes (or ignore-context) in
// sip.conf. What an earlier NOTIFY taught (direction, the remote party) is
// carried on to the later transitions of the same dialog.
package subscribe
