// Package fakepipedrive is a strict in-process Pipedrive for tests and
// benchmarks: call logs (add, with the call activity Pipedrive creates for
// each), activities (list), users, persons and organisations (API v2
// lists), behind an API token or OAuth access tokens from its token
// endpoint.
//
// It refuses what Pipedrive refuses, with Pipedrive's statuses and its
// error shape {success: false, error, error_info}: a missing or wrong
// token (401), a call log without its required fields or with a value of
// the wrong type or format (outcome, to_phone_number, start_time and
// end_time in "YYYY-MM-DD HH:MM:SS", duration as a string), a call log for
// another user by a user without account settings access (403), persons,
// organisations or users that do not exist, a deal and a lead together,
// pages over 500, and requests beyond the burst limit per 2-second window
// or the daily token budget (429). It ignores what Pipedrive ignores:
// fields a call log does not have. Each rule cites where it comes from.
package fakepipedrive
