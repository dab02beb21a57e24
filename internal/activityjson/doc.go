// Package activityjson appends a bridge.Activity as JSON exactly as
// json.Marshal writes it (bridge.Activity.MarshalJSON), without
// reflection: the sink writes every finished activity on the source's
// goroutine, and the webhook body starts with one. The bytes are a
// contract (sink.file is read by other tools, webhook receivers sign
// them), so the tests hold json.Marshal as the reference on every
// activity of every recording and under fuzzing.
package activityjson
