package webhook

import (
	"strconv"
	"sync"

	"github.com/callbridge/callbridge/internal/activityjson"
	"github.com/callbridge/callbridge/internal/jsonstr"
)

// The body is written by hand rather than by encoding/json: on the live
// path the reflection over the activity, the splice of two objects and
// json.Marshal's re-validation of a Marshaler's output cost more than the
// rest of a push. Receivers verify an HMAC over the exact bytes, so every
// byte here is what encoding/json wrote before (encode_test.go holds that
// encoding as the reference and compares the two on every recording and
// under fuzzing): the same keys in the same order, the same omitempty
// rules, floats as encoding/json formats a float64, strings escaped as
// json.Marshal escapes them (<, >, & and U+2028/U+2029 as \u escapes,
// invalid UTF-8 as \ufffd). The activity's own fields are internal/activityjson's,
// the bytes the sink writes too.

// bufs holds scratch buffers for encoding. A request body itself is never
// pooled: net/http may still read it after Client.Do returns (see
// http.RoundTripper), so it gets its own exact-size copy.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled keeps an odd huge body's buffer out of the pool.
const maxPooled = 64 << 10

// encode returns b as the webhook sends it, in a slice of its own.
func encode(b *Body) ([]byte, error) {
	p := bufs.Get().(*[]byte)
	buf, err := appendBody((*p)[:0], b)
	var out []byte
	if err == nil {
		out = append(make([]byte, 0, len(buf)), buf...)
	}
	if cap(buf) <= maxPooled {
		*p = buf
		bufs.Put(p)
	}
	return out, err
}

// appendBody appends b as one JSON object: the activity's fields as
// bridge.Activity.MarshalJSON writes them, then the other keys.
func appendBody(dst []byte, b *Body) ([]byte, error) {
	dst, err := activityjson.AppendOpen(dst, &b.Activity)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"crm_user":`...)
	if u := b.CRMUser; u == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"id":`...)
		dst = jsonstr.Append(dst, u.ID)
		dst = append(dst, `,"email":`...)
		dst = jsonstr.Append(dst, u.Email)
		dst = append(dst, `,"mapped":`...)
		dst = strconv.AppendBool(dst, u.Mapped)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"template":`...)
	dst = jsonstr.Append(dst, b.Template)
	dst = append(dst, `,"matches":[`...)
	for i := range b.Matches {
		m := &b.Matches[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"connector":`...)
		dst = jsonstr.Append(dst, m.Connector)
		dst = append(dst, `,"entity":`...)
		dst = jsonstr.Append(dst, m.Entity)
		dst = append(dst, `,"type":`...)
		dst = jsonstr.Append(dst, string(m.Type))
		dst = append(dst, `,"id":`...)
		dst = jsonstr.Append(dst, m.ID)
		dst = append(dst, `,"name":`...)
		dst = jsonstr.Append(dst, m.Name)
		dst = append(dst, `,"url":`...)
		dst = jsonstr.Append(dst, m.URL)
		dst = append(dst, `,"org":`...)
		dst = jsonstr.Append(dst, m.Org)
		dst = append(dst, `,"exact":`...)
		dst = strconv.AppendBool(dst, m.Exact)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"completed":`...)
	dst = strconv.AppendBool(dst, b.Completed)
	dst = append(dst, `,"wrap_up":`...)
	dst = appendWrapUp(dst, b.WrapUp)
	return append(dst, '}'), nil
}

// appendWrapUp appends w as WrapUp.MarshalJSON writes it; null for nil.
func appendWrapUp(dst []byte, w *WrapUp) []byte {
	if w == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"code":`...)
	dst = jsonstr.Append(dst, w.Code)
	dst = append(dst, `,"notes":`...)
	dst = jsonstr.Append(dst, w.Notes)
	dst = append(dst, `,"at":`...)
	dst = activityjson.AppendTime(dst, w.At, wrapUpTimeFormat)
	return append(dst, '}')
}

// wrapUpTimeFormat is how a wrap-up's time is written (always in UTC).
const wrapUpTimeFormat = "2006-01-02T15:04:05.000Z"

// appendUpdate appends u as json.Marshal writes an Update.
func appendUpdate(dst []byte, u *Update) []byte {
	dst = append(dst, `{"event":`...)
	dst = jsonstr.Append(dst, u.Event)
	dst = append(dst, `,"id":`...)
	dst = jsonstr.Append(dst, u.ID)
	dst = append(dst, `,"activity_id":`...)
	dst = jsonstr.Append(dst, u.ActivityID)
	dst = append(dst, `,"call_id":`...)
	dst = jsonstr.Append(dst, u.CallID)
	dst = append(dst, `,"user":`...)
	dst = jsonstr.Append(dst, u.User)
	dst = append(dst, `,"wrap_up":`...)
	dst = appendWrapUp(dst, u.WrapUp)
	dst = append(dst, `,"complete":`...)
	dst = strconv.AppendBool(dst, u.Complete)
	return append(dst, '}')
}
