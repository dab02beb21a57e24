// Package cards is the agent's caller card: for every user, the calls in
// progress as cards (who calls, on which line, which CRM records match,
// the links to open) and the events a client obeys: offer, open, close,
// connected, ended.
//
// The Engine follows the engine's live transitions (internal/app hands
// them over from every source) and decides, per user, when the card opens
// and closes: policy.defaults.screen_pop with the user's overrides
// (open: call | connected, close: none | connected, open_outgoing: user |
// always, caller_card_delay), and per call type (inbound, outbound,
// internal, manual) what it searches and pops. A client never decides: it
// opens on open and closes on close.
//
// Each user's events fan out to their streams through bounded buffers; a
// stream that falls behind is dropped, never waited for, and its client
// reconnects with Last-Event-ID to get the calls in progress again. The
// engine also knows each user's phone state (idle, ringing, on_call) for
// presence, and the calls callbridge is placing for them (click-to-dial),
// which make "manual" cards whatever the PBX's signalling says.
package cards
