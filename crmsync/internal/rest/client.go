package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx answer.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// Class overrides how a failed answer is classified.
type Class int

// Classes of failure. ByStatus leaves it to the HTTP status
// (crmerr.FromHTTP); the others are for CRMs whose status misleads
// (Salesforce's 403 REQUEST_LIMIT_EXCEEDED is a wait, not a refusal).
const (
	ByStatus Class = iota
	Retry
	Permanent
	Unauthorized
)

// Failure is what a CRM's error answer says.
type Failure struct {
	Code    string // the CRM's error code, quoted in errors
	Message string // its message; the client scrubs and shortens it
	Class   Class
	// After is a wait the CRM asked for in its own terms (a body field,
	// a rate-limit header); the longer of it and Retry-After is kept.
	After time.Duration
	// Throttled marks a rate or usage limit (counted in throttled_total).
	Throttled bool
}

// Decoder reads a CRM's error answer. It must not panic on any input.
type Decoder func(r *Response) Failure

// Authorizer adds a credential to requests.
type Authorizer interface {
	// Authorize sets the credential on req. fresh says it was obtained
	// for this request: refused, it is not worth a second try.
	Authorize(ctx context.Context, req *http.Request) (fresh bool, err error)
	// Refused says the credential on req was refused; the next Authorize
	// obtains a new one.
	Refused(req *http.Request)
}

// Client sends one connector's requests to its CRM.
type Client struct {
	CRM       string // "salesforce": starts every error
	Connector string // the instance name
	HTTP      *http.Client
	Auth      Authorizer
	Decode    Decoder
	Metrics   *Metrics
	Scrub     *Scrubber
	Log       zerolog.Logger
	Now       func() time.Time
	// Allowed are the URL prefixes requests may go to: the credential
	// never leaves them, whatever a next-page link says.
	Allowed []string
	// Headers are set on every request (Accept, API versions).
	Headers http.Header

	sem chan struct{}
}

// MaxBody bounds what is read of one answer.
const MaxBody = 64 << 20

// Init checks the client and sets its concurrency cap.
func (c *Client) Init(maxConcurrency int) {
	if maxConcurrency < 1 {
		maxConcurrency = 1
	}
	c.sem = make(chan struct{}, maxConcurrency)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Scrub == nil {
		c.Scrub = &Scrubber{}
	}
	if c.HTTP == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.HTTP = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	// A redirect would carry the credential to a host nobody configured.
	c.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// Errorf makes an error of this connector, classified by wrap.
func (c *Client) Errorf(format string, args ...any) error {
	return fmt.Errorf(c.CRM+" "+c.Connector+": "+format, args...)
}

func (c *Client) allowed(u string) bool {
	for _, p := range c.Allowed {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// Do sends one request and reads the answer whole, whatever its status.
// It holds a concurrency slot, adds the credential, and when the answer is
// a refused credential that was not fresh, obtains a new one and sends the
// request once more. Errors are transport failures (retryable), a refused
// URL or a credential that could not be obtained.
func (c *Client) Do(ctx context.Context, op, method, target string, body []byte, hdr http.Header) (*Response, error) {
	if !c.allowed(target) {
		return nil, crmerr.Permanent(c.Errorf("%s: refusing a URL outside the configured API", op))
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, crmerr.Retryable(c.Errorf("%s: waiting for a request slot: %w", op, ctx.Err()), 0)
	}
	defer func() { <-c.sem }()
	c.Metrics.InFlight.WithLabelValues(c.Connector).Inc()
	defer c.Metrics.InFlight.WithLabelValues(c.Connector).Dec()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return nil, crmerr.Permanent(c.Errorf("%s: build request", op))
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		req.Header.Set("User-Agent", "callbridge")
		for k, v := range c.Headers {
			req.Header[k] = v
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		fresh := true
		if c.Auth != nil {
			if fresh, err = c.Auth.Authorize(ctx, req); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		resp, err := c.HTTP.Do(req)
		c.Metrics.Duration.WithLabelValues(c.Connector, op).Observe(time.Since(start).Seconds())
		if err != nil {
			c.Metrics.Requests.WithLabelValues(c.Connector, op, "error").Inc()
			return nil, c.TransportError(op, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		resp.Body.Close()
		c.Metrics.Requests.WithLabelValues(c.Connector, op, strconv.Itoa(resp.StatusCode)).Inc()
		if err != nil {
			return nil, c.TransportError(op+": reading answer", err)
		}
		r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
		if r.OK() {
			return r, nil
		}
		f := c.decode(r)
		if f.Throttled || r.Status == http.StatusTooManyRequests {
			c.Metrics.Throttled.WithLabelValues(c.Connector).Inc()
		}
		refused := f.Class == Unauthorized || (f.Class == ByStatus && r.Status == http.StatusUnauthorized)
		if refused && c.Auth != nil {
			c.Auth.Refused(req)
			if attempt == 0 && !fresh {
				c.Log.Debug().Str("connector", c.Connector).Str("op", op).Msg(c.CRM + " credential refused, obtaining a new one")
				continue
			}
		}
		return r, nil
	}
}

// DoJSON sends in as a JSON body (nil: no body).
func (c *Client) DoJSON(ctx context.Context, op, method, target string, in any, hdr http.Header) (*Response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, crmerr.Permanent(c.Errorf("%s: encode request: %w", op, err))
		}
		if hdr == nil {
			hdr = http.Header{}
		}
		if hdr.Get("Content-Type") == "" {
			hdr.Set("Content-Type", "application/json")
		}
	}
	return c.Do(ctx, op, method, target, body, hdr)
}

func (c *Client) decode(r *Response) (f Failure) {
	if c.Decode == nil {
		return Failure{}
	}
	return c.Decode(r)
}

// Fail classifies a failed answer to op: the CRM's error code and a
// scrubbed, shortened message are quoted; Retry-After and the CRM's own
// wait are honoured.
func (c *Client) Fail(op string, r *Response) error {
	f := c.decode(r)
	return c.failure(op, r, f)
}

// FailWith classifies a failure the caller decoded itself (one record of a
// batch answer), as if r had carried it.
func (c *Client) FailWith(op string, r *Response, f Failure) error { return c.failure(op, r, f) }

func (c *Client) failure(op string, r *Response, f Failure) error {
	msg := Truncate(strings.TrimSpace(Printable([]byte(f.Message))), 200)
	text := strings.TrimSpace(f.Code + " " + msg)
	if text == "" {
		text = Printable(r.Body[:min(len(r.Body), 200)])
	}
	text = Truncate(c.Scrub.Replace(text), 300)
	err := crmerr.FromHTTP(r.Status, r.Header, text, c.Now())
	var e *crmerr.Error
	if !errors.As(err, &e) {
		// A 2xx the CRM itself calls a failure (an error body with 200).
		e = &crmerr.Error{Status: r.Status, Err: fmt.Errorf("HTTP %d: %s", r.Status, text), Kind: crmerr.ErrPermanent}
	}
	switch f.Class {
	case Retry:
		e.Kind = nil
	case Permanent:
		e.Kind, e.After = crmerr.ErrPermanent, 0
	case Unauthorized:
		e.Kind, e.After = crmerr.ErrUnauthorized, 0
	}
	if e.Kind == nil && f.After > e.After {
		e.After = min(f.After, crmerr.MaxRetryAfter)
	}
	return c.Errorf("%s: %w", op, e)
}

// TransportError classifies a failed round trip as retryable, keeping the
// URL (which *url.Error repeats, query included) and secrets out.
func (c *Client) TransportError(op string, err error) error {
	cause := crmerr.TransportCause(err)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	text := c.Scrub.Replace(err.Error())
	if text == cause.Error() {
		return crmerr.Retryable(c.Errorf("%s: %w", op, cause), 0)
	}
	return crmerr.Retryable(c.Errorf("%s: %s: %w", op, text, cause), 0)
}

// Unexpected is the error for an answer that cannot be read: retried,
// since a CRM that answers garbage is more likely broken for a while than
// refusing this activity.
func (c *Client) Unexpected(op string, err error) error {
	return crmerr.Retryable(c.Errorf("%s: undecodable answer: %s", op, c.Scrub.Replace(err.Error())), 0)
}

// Pushed counts one activity's outcome.
func (c *Client) Pushed(outcome string) {
	c.Metrics.Pushes.WithLabelValues(c.Connector, outcome).Inc()
}
