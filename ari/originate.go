package ari

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OriginateVar is the channel variable an originated channel carries: the
// id callbridge gave it, so an operator can tell callbridge's calls in the
// PBX's logs.
const OriginateVar = "CALLBRIDGE_ORIGINATE"

// OriginateConfig says how to place calls over ARI (click-to-dial). The
// ARI user needs write access (ari.conf read_only = no).
type OriginateConfig struct {
	URL, Username, Password string
	// Context is the dialplan context the number is dialled in once the
	// agent's phone answers.
	Context string
	// RingTimeout is how long the agent's phone rings (Asterisk's
	// timeout). Default 30 s.
	RingTimeout time.Duration
	// RequestTimeout bounds each request (default 10 s): a click-to-dial
	// answers within it, whatever Asterisk does.
	RequestTimeout time.Duration
}

// Refused is Asterisk's refusal of an originate: its HTTP status and
// reason, as it gave them.
type Refused struct {
	Status int
	Reason string
}

func (r *Refused) Error() string {
	return fmt.Sprintf("Asterisk refused the call (HTTP %d): %s", r.Status, r.Reason)
}

// Originator places calls with POST /channels.
type Originator struct {
	cfg  OriginateConfig
	auth string
	http *http.Client
}

// NewOriginator checks cfg and returns an originator.
func NewOriginator(cfg OriginateConfig) (*Originator, error) {
	c := Config{URL: cfg.URL, Username: cfg.Username, Password: cfg.Password}
	c.withDefaults()
	if _, err := c.validate(); err != nil {
		return nil, err
	}
	if cfg.Context == "" {
		return nil, errors.New("ari: originate: a dialplan context is required")
	}
	cfg.URL = c.URL
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	return &Originator{cfg: cfg, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)),
		http: &http.Client{Timeout: cfg.RequestTimeout}}, nil
}

// Originate rings endpoint (the agent's phone, "PJSIP/101") and, once it
// answers, sends it to number in the configured context, presenting
// callerID to the phone. id becomes the channel's id, and so the call's
// id in its events. It returns once Asterisk has accepted (the phone is
// being rung) or refused: a *Refused carries Asterisk's reason, explained
// where Asterisk only says "Allocation failed".
func (o *Originator) Originate(ctx context.Context, id, endpoint, number, callerID string) error {
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("extension", number)
	q.Set("context", o.cfg.Context)
	q.Set("priority", "1")
	q.Set("callerId", callerID)
	q.Set("timeout", strconv.Itoa(int(o.cfg.RingTimeout/time.Second)))
	q.Set("channelId", id)
	body, _ := json.Marshal(map[string]map[string]string{"variables": {OriginateVar: id}})
	status, answer, err := o.do(ctx, http.MethodPost, "/channels?"+q.Encode(), body)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		return nil
	}
	r := &Refused{Status: status, Reason: reason(answer)}
	switch {
	case status == http.StatusUnauthorized:
		r.Reason += " (check ari.username and ari.password)"
	case status == http.StatusForbidden:
		r.Reason += " (the ARI user may not place calls: set read_only = no in ari.conf)"
	case status == http.StatusInternalServerError && r.Reason == "Allocation failed":
		// Asterisk gives the same words for an unknown endpoint, one
		// whose phone is not registered, and an unknown technology;
		// the endpoint's state tells them apart.
		r.Reason += o.why(ctx, endpoint)
	}
	return r
}

// why explains an "Allocation failed" by the endpoint's state.
func (o *Originator) why(ctx context.Context, endpoint string) string {
	tech, res, ok := strings.Cut(endpoint, "/")
	if !ok {
		return ""
	}
	status, answer, err := o.do(ctx, http.MethodGet, "/endpoints/"+url.PathEscape(tech)+"/"+url.PathEscape(res), nil)
	if err != nil {
		return ""
	}
	var st struct {
		State string `json:"state"`
	}
	switch {
	case status == http.StatusNotFound:
		return fmt.Sprintf(" (Asterisk has no endpoint %s)", endpoint)
	case status == http.StatusOK && json.Unmarshal(answer, &st) == nil && st.State == "offline":
		return fmt.Sprintf(" (endpoint %s is offline: its phone is not registered)", endpoint)
	}
	return ""
}

func (o *Originator) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.cfg.URL+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("ari: %s: %w", method, err)
	}
	req.Header.Set("Authorization", o.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.http.Do(req)
	if err != nil {
		// Without the URL, which holds the number dialled.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("ari: %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("ari: %s: %w", method, err)
	}
	return resp.StatusCode, answer, nil
}

// reason is the text of an ARI error answer: {"message": …} as most
// resources give it, {"error": …} as POST /channels does when the
// channel cannot be made, or the body itself.
func reason(body []byte) string {
	var v struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		if v.Message != "" {
			return v.Message
		}
		if v.Error != "" {
			return v.Error
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		return "no reason given"
	}
	return s
}
