// Package jsonstr appends strings as JSON exactly as encoding/json's
// Marshal writes them, for the encoders that write their JSON by hand
// (the webhook body, the lookup answer) and must give the same bytes.
package jsonstr
