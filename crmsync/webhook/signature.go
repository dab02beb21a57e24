package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the signature: "t=<unix seconds>,v1=<hex>".
const SignatureHeader = "X-Callbridge-Signature"

// Sign returns the SignatureHeader value for body sent at unix time t: the
// hex HMAC-SHA256, keyed with secret, of "<t>.<body>". Signing the time too
// lets receivers refuse old requests replayed by someone else.
func Sign(secret []byte, t int64, body []byte) string {
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a parsed SignatureHeader.
type Signature struct {
	Time int64
	V1   [][]byte // several during a secret rotation
}

// Signature errors.
var (
	ErrBadSignature = errors.New("signature mismatch")
	ErrStale        = errors.New("signature timestamp outside tolerance")
)

// ParseSignature reads a SignatureHeader value. Unknown schemes are skipped
// so a receiver keeps working when a v2 is added.
func ParseSignature(h string) (Signature, error) {
	var s Signature
	haveT := false
	if len(h) > 4096 {
		return s, errors.New("signature header too long")
	}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, fmt.Errorf("signature header: element %q has no '='", part)
		}
		switch k {
		case "t":
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil || t < 0 {
				return Signature{}, fmt.Errorf("signature header: bad timestamp %q", v)
			}
			s.Time, haveT = t, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, errors.New("signature header: v1 is not a hex SHA-256 MAC")
			}
			s.V1 = append(s.V1, b)
		}
	}
	if !haveT {
		return Signature{}, errors.New("signature header: no timestamp")
	}
	if len(s.V1) == 0 {
		return Signature{}, errors.New("signature header: no v1 signature")
	}
	return s, nil
}

// Verify checks header against body and secret, and that its time is within
// tolerance of now (0: any time). Receivers written in Go can use it; the
// README shows the same in a few lines of Python.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	s, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if tolerance > 0 {
		d := now.Sub(time.Unix(s.Time, 0))
		if d < -tolerance || d > tolerance {
			return ErrStale
		}
	}
	want := mac(secret, s.Time, body)
	for _, got := range s.V1 {
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
