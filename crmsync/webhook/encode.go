package webhook

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/callbridge/callbridge/bridge"
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
// invalid UTF-8 as \ufffd).

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
	dst, err := appendActivity(dst, &b.Activity)
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

// appendActivity appends a as bridge.Activity.MarshalJSON writes it,
// without the closing brace (the body's other keys follow).
func appendActivity(dst []byte, a *bridge.Activity) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = jsonstr.Append(dst, a.ID)
	dst = append(dst, `,"call_id":`...)
	dst = jsonstr.Append(dst, a.CallID)
	dst = append(dst, `,"user":`...)
	dst = jsonstr.Append(dst, a.User)
	dst = appendOmitEmpty(dst, `,"user_name":`, a.UserName)
	dst = append(dst, `,"local_number":`...)
	dst = jsonstr.Append(dst, a.LocalNumber)
	dst = append(dst, `,"direction":`...)
	dst = jsonstr.Append(dst, string(a.Direction))
	dst = append(dst, `,"internal":`...)
	dst = strconv.AppendBool(dst, a.Internal)
	dst = append(dst, `,"state":`...)
	dst = jsonstr.Append(dst, string(a.State))
	dst = append(dst, `,"reason":`...)
	dst = jsonstr.Append(dst, string(a.Reason))
	dst = append(dst, `,"remote_number":`...)
	dst = jsonstr.Append(dst, a.RemoteNumber)
	dst = appendOmitEmpty(dst, `,"remote_e164":`, a.RemoteE164)
	dst = appendOmitEmpty(dst, `,"remote_name":`, a.RemoteName)
	dst = appendOmitEmpty(dst, `,"ddi":`, a.DDI)
	var err error
	dst = append(dst, `,"ring_seconds":`...)
	if dst, err = appendFloat(dst, a.RingSeconds, "ring_seconds"); err != nil {
		return dst, err
	}
	dst = append(dst, `,"talk_seconds":`...)
	if dst, err = appendFloat(dst, a.TalkSeconds, "talk_seconds"); err != nil {
		return dst, err
	}
	dst = appendOmitEmpty(dst, `,"transferred_by":`, a.TransferredBy)
	dst = appendOmitEmpty(dst, `,"forwarded_by":`, a.ForwardedBy)
	dst = append(dst, `,"privacy":`...)
	dst = jsonstr.Append(dst, a.Privacy)
	dst = append(dst, `,"source":`...)
	dst = jsonstr.Append(dst, a.Source)
	dst = append(dst, `,"started_at":`...)
	dst = appendTime(dst, a.StartedAt, bridge.TimeFormat)
	if !a.AnsweredAt.IsZero() {
		dst = append(dst, `,"answered_at":`...)
		dst = appendTime(dst, a.AnsweredAt, bridge.TimeFormat)
	}
	dst = append(dst, `,"ended_at":`...)
	return appendTime(dst, a.EndedAt, bridge.TimeFormat), nil
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
	dst = appendTime(dst, w.At, wrapUpTimeFormat)
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

// appendOmitEmpty appends key and s unless s is "" (omitempty).
func appendOmitEmpty(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return jsonstr.Append(append(dst, key...), s)
}

// appendTime appends t in UTC as a JSON string. A formatted time holds
// only digits and "-:.TZ", which JSON needs no escape for.
func appendTime(dst []byte, t time.Time, layout string) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, layout)
	return append(dst, '"')
}

// appendFloat appends f as encoding/json writes a float64 (its
// floatEncoder): like ES6, 'f' form except for very small or very large
// magnitudes, exponents without a leading zero. NaN and ±Inf have no JSON
// form: an error, as json.Marshal gives.
func appendFloat(dst []byte, f float64, key string) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("webhook: %s: unsupported value %v", key, f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}
