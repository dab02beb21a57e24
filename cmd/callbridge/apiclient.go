package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/secret"
)

// apiClient talks to the running daemon's API on http.listen, as the
// admin: the token comes from the same config the daemon reads.
type apiClient struct {
	base  string
	token secret.Secret
	http  *http.Client
}

// dialAPI is the client for the daemon configured in cfgFile.
func dialAPI(cfgFile string) (*apiClient, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return nil, err
	}
	return apiFor(cfg)
}

// apiFor is the client for the daemon configured by cfg.
func apiFor(cfg *config.Config) (*apiClient, error) {
	h := cfg.HTTP
	if h.Listen == "" {
		return nil, errors.New("http.listen is off in the config: the daemon has no API to ask")
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // listening everywhere: ask over loopback
	}
	c := &apiClient{base: "http://" + net.JoinHostPort(host, port), token: h.AdminToken, http: &http.Client{}}
	if h.TLS.On() {
		tc, err := clientTLS(h.TLS.CertFile)
		if err != nil {
			return nil, err
		}
		c.base = "https://" + net.JoinHostPort(host, port)
		c.http.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return c, nil
}

// clientTLS trusts the system's roots and the daemon's own certificate
// chain (a self-signed one too), and checks the certificate for the name
// it was issued to: the CLI connects by address, not by that name.
func clientTLS(certFile string) (*tls.Config, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls.cert_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	var leaf *x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("http.tls.cert_file: %w", err)
		}
		if leaf == nil {
			leaf = cert
		}
		pool.AddCert(cert)
	}
	if leaf == nil {
		return nil, fmt.Errorf("http.tls.cert_file: %s holds no PEM certificate", certFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	switch {
	case len(leaf.DNSNames) > 0:
		tc.ServerName = leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		tc.ServerName = leaf.IPAddresses[0].String()
	}
	return tc, nil
}

// call asks the daemon (path is /api/…) and decodes its JSON answer into
// v; a 202 answer is an operation, followed to its end.
func (c *apiClient) call(ctx context.Context, method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token.Value())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return notAnswering{host: req.URL.Host, err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized && c.token == "":
		return fmt.Errorf("%s %s: %s: the daemon asks for the admin token: set http.admin_token_file in the config", method, path, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s %s: %s: the daemon does not take the config's admin token (was it changed without a reload?)", method, path, resp.Status)
	case resp.StatusCode/100 != 2:
		return &apiError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))}
	case resp.StatusCode == http.StatusAccepted:
		var op api.Operation
		if err := json.Unmarshal(data, &op); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		return c.await(ctx, op, v)
	}
	return json.Unmarshal(data, v)
}

// errNotAnswering: nothing answers on http.listen (the daemon is not
// running there).
var errNotAnswering = errors.New("the daemon is not answering")

type notAnswering struct {
	host string
	err  error
}

func (e notAnswering) Error() string {
	return fmt.Sprintf("callbridge is not answering at %s (is it running?): %v", e.host, e.err)
}
func (e notAnswering) Unwrap() error        { return e.err }
func (e notAnswering) Is(target error) bool { return target == errNotAnswering }

// apiError is an answer other than 2xx.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// pollEvery is how often an operation's status is asked for.
var pollEvery = 200 * time.Millisecond

// await polls op's status URL until it is done and decodes its result
// into v; a failed operation is an error saying why.
func (c *apiClient) await(ctx context.Context, op api.Operation, v any) error {
	for op.State == api.OpRunning {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: still running (%s): %w", op.Kind, op.Target, op.StatusURL, ctx.Err())
		case <-time.After(pollEvery):
		}
		var next json.RawMessage
		if err := c.call(ctx, http.MethodGet, op.StatusURL, nil, &next); err != nil {
			return err
		}
		op = api.Operation{}
		if err := json.Unmarshal(next, &op); err != nil {
			return err
		}
	}
	if op.State == api.OpFailed {
		return fmt.Errorf("%s %s failed: %s", op.Kind, op.Target, op.Error)
	}
	b, err := json.Marshal(op.Result)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
