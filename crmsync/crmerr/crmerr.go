package crmerr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors for errors.Is.
var (
	// ErrPermanent marks a failure that will not go away by retrying the
	// same request: the activity goes to the dead-letter store.
	ErrPermanent = errors.New("permanent failure")
	// ErrUnauthorized marks a rejected credential (HTTP 401). The worker
	// asks the connector to refresh it once before retrying.
	ErrUnauthorized = errors.New("unauthorized")
)

// Error is a classified push failure.
type Error struct {
	// Status is the HTTP status, 0 when the failure was not an HTTP answer.
	Status int
	// After is how long the CRM asked us to wait (Retry-After), 0 if it
	// did not say.
	After time.Duration
	// Kind is ErrPermanent, ErrUnauthorized or nil (retryable).
	Kind error
	// Err is the underlying failure.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Kind == ErrPermanent:
		b.WriteString("permanent: ")
	case e.Kind == ErrUnauthorized:
		b.WriteString("unauthorized: ")
	default:
		b.WriteString("retryable: ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.After > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.After)
	}
	return b.String()
}

// Unwrap exposes both the kind (for errors.Is(err, ErrPermanent)) and the
// cause (for errors.Is(err, context.DeadlineExceeded) and friends).
func (e *Error) Unwrap() []error {
	if e.Kind != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Err}
}

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &Error{Kind: ErrPermanent, Err: err} }

// Retryable marks err as worth retrying, after at least after (0: the
// worker's own backoff decides).
func Retryable(err error, after time.Duration) error { return &Error{Err: err, After: after} }

// Unauthorized marks err as a rejected credential.
func Unauthorized(err error) error { return &Error{Kind: ErrUnauthorized, Err: err} }

// IsPermanent reports whether err must not be retried.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// IsUnauthorized reports whether err is a rejected credential.
func IsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// IsRetryable reports whether err should be retried. Unclassified errors,
// network errors and timeouts are retryable; so is a cancelled context, since
// the push was interrupted, not refused.
func IsRetryable(err error) bool {
	return err != nil && !IsPermanent(err)
}

// RetryAfter returns the wait the CRM asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.After > 0 {
		return e.After, true
	}
	return 0, false
}

// Status returns the HTTP status carried by err, or 0.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// MaxRetryAfter caps what a Retry-After header can ask for, so one odd
// answer cannot park an activity for days.
const MaxRetryAfter = time.Hour

// FromHTTP classifies an HTTP answer: nil for 2xx; 401 unauthorized;
// 400, 403, 404, 405, 410, 413, 422 permanent; 408, 425, 429 and 5xx
// retryable, honouring Retry-After; anything else permanent (the request
// itself is at fault). msg describes the answer (without secrets: the caller
// redacts); now anchors an HTTP-date Retry-After.
func FromHTTP(status int, header http.Header, msg string, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	err := fmt.Errorf("HTTP %d%s", status, suffix(msg))
	e := &Error{Status: status, Err: err}
	switch {
	case status == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout,
		status == http.StatusTooEarly, status >= 500:
		if d, ok := ParseRetryAfter(header.Get("Retry-After"), now); ok {
			e.After = d
		}
	default:
		e.Kind = ErrPermanent
	}
	return e
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 10.2.3). It returns false for an empty or malformed value. The
// result is never negative and at most MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 63); err == nil {
		if n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}

// Describe gives a short, stable reason for a failure, for dead letters and
// metric labels: "http_404", "timeout", "canceled", "unauthorized", "error".
func Describe(err error) string {
	switch {
	case err == nil:
		return ""
	case Status(err) != 0:
		return "http_" + strconv.Itoa(Status(err))
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case IsUnauthorized(err):
		return "unauthorized"
	case IsPermanent(err):
		return "permanent"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout"
	}
	return "error"
}

// ErrTransport stands for a transport failure (connection refused, reset,
// TLS) whose own text is kept out of errors, since it may hold URLs.
var ErrTransport = errors.New("transport error")

// TransportCause keeps the part of a transport error that classifies it
// (deadline, cancel) for errors.Is, without its text.
func TransportCause(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return context.DeadlineExceeded
	}
	return ErrTransport
}
