package crmerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFromHTTP(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
	h := func(ra string) http.Header {
		x := http.Header{}
		if ra != "" {
			x.Set("Retry-After", ra)
		}
		return x
	}
	tests := []struct {
		status    int
		ra        string
		wantNil   bool
		permanent bool
		unauth    bool
		after     time.Duration
	}{
		{status: 200, wantNil: true},
		{status: 204, wantNil: true},
		{status: 400, permanent: true},
		{status: 401, unauth: true},
		{status: 403, permanent: true},
		{status: 404, permanent: true},
		{status: 422, permanent: true},
		{status: 429, ra: "7", after: 7 * time.Second},
		{status: 429, ra: now.Add(90 * time.Second).Format(http.TimeFormat), after: 90 * time.Second},
		{status: 429, ra: "soon"},
		{status: 500},
		{status: 502},
		{status: 503, ra: "120", after: 2 * time.Minute},
		{status: 503, ra: "99999999", after: MaxRetryAfter},
		{status: 408},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s", tt.status, tt.ra), func(t *testing.T) {
			err := FromHTTP(tt.status, h(tt.ra), "", now)
			if tt.wantNil {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if got := IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v", got)
			}
			if got := IsUnauthorized(err); got != tt.unauth {
				t.Errorf("IsUnauthorized = %v", got)
			}
			if got := IsRetryable(err); got == tt.permanent {
				t.Errorf("IsRetryable = %v", got)
			}
			d, _ := RetryAfter(err)
			if d != tt.after {
				t.Errorf("RetryAfter = %v, want %v", d, tt.after)
			}
			if Status(err) != tt.status {
				t.Errorf("Status = %d", Status(err))
			}
		})
	}
}

func TestWrapping(t *testing.T) {
	base := context.DeadlineExceeded
	err := fmt.Errorf("push: %w", Retryable(base, time.Second))
	if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) || !IsRetryable(err) {
		t.Fatalf("classification lost through wrapping: %v", err)
	}
	if Describe(err) != "timeout" {
		t.Errorf("Describe = %q", Describe(err))
	}
	p := fmt.Errorf("x: %w", Permanent(errors.New("bad field")))
	if !IsPermanent(p) || IsRetryable(p) || Describe(p) != "permanent" {
		t.Errorf("permanent lost: %v", p)
	}
	if !IsRetryable(errors.New("plain")) {
		t.Error("unclassified errors must be retryable")
	}
	if IsRetryable(nil) {
		t.Error("nil is not retryable")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second, true},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0, true},
		{"18446744073709551615", 0, false},
		{"9223372036854775807", MaxRetryAfter, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v,%v want %v,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "Sat, 21 Nov 2026 16:11:14 GMT", "", "x", "-3"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > MaxRetryAfter || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v,%v", s, d, ok)
		}
	})
}

func TestTransportCause(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{fmt.Errorf("dial https://u:secret@crm/x: %w", context.DeadlineExceeded), context.DeadlineExceeded},
		{fmt.Errorf("wrapped: %w", context.Canceled), context.Canceled},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, context.DeadlineExceeded},
		{errors.New("connection refused to https://crm/?token=abc"), ErrTransport},
	} {
		got := TransportCause(tc.in)
		if !errors.Is(got, tc.want) || strings.Contains(got.Error(), "secret") || strings.Contains(got.Error(), "token") {
			t.Errorf("TransportCause(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }
