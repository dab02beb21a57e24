package activityjson

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/jsonstr"
)

// Append appends a as one JSON object, the bytes json.Marshal gives for
// it. NaN and ±Inf seconds have no JSON form: an error, as json.Marshal
// gives, and dst as it was.
func Append(dst []byte, a *bridge.Activity) ([]byte, error) {
	out, err := AppendOpen(dst, a)
	if err != nil {
		return dst, err
	}
	return append(out, '}'), nil
}

// AppendOpen is Append without the closing brace, for an encoder that
// adds keys of its own to the object (the webhook body).
func AppendOpen(dst []byte, a *bridge.Activity) ([]byte, error) {
	if err := checkFloat(a.RingSeconds, "ring_seconds"); err != nil {
		return dst, err
	}
	if err := checkFloat(a.TalkSeconds, "talk_seconds"); err != nil {
		return dst, err
	}
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
	dst = append(dst, `,"ring_seconds":`...)
	dst = appendFloat(dst, a.RingSeconds)
	dst = append(dst, `,"talk_seconds":`...)
	dst = appendFloat(dst, a.TalkSeconds)
	dst = appendOmitEmpty(dst, `,"transferred_by":`, a.TransferredBy)
	dst = appendOmitEmpty(dst, `,"forwarded_by":`, a.ForwardedBy)
	dst = append(dst, `,"privacy":`...)
	dst = jsonstr.Append(dst, a.Privacy)
	dst = append(dst, `,"source":`...)
	dst = jsonstr.Append(dst, a.Source)
	dst = append(dst, `,"started_at":`...)
	dst = AppendTime(dst, a.StartedAt, bridge.TimeFormat)
	if !a.AnsweredAt.IsZero() {
		dst = append(dst, `,"answered_at":`...)
		dst = AppendTime(dst, a.AnsweredAt, bridge.TimeFormat)
	}
	dst = append(dst, `,"ended_at":`...)
	return AppendTime(dst, a.EndedAt, bridge.TimeFormat), nil
}

// appendOmitEmpty appends key and s unless s is "" (omitempty).
func appendOmitEmpty(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return jsonstr.Append(append(dst, key...), s)
}

// AppendTime appends t in UTC in layout as a JSON string. A time
// formatted in a layout of digits and "-:.TZ" needs no escape.
func AppendTime(dst []byte, t time.Time, layout string) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, layout)
	return append(dst, '"')
}

// checkFloat refuses what JSON has no number for, as json.Marshal does.
func checkFloat(f float64, key string) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%s: unsupported value %v", key, f)
	}
	return nil
}

// appendFloat appends f as encoding/json writes a float64 (its
// floatEncoder): like ES6, 'f' form except for very small or very large
// magnitudes, exponents without a leading zero.
func appendFloat(dst []byte, f float64) []byte {
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
	return dst
}
