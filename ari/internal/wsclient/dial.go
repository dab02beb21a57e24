package wsclient

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6455 defines the accept key with SHA-1
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options shape a connection.
type Options struct {
	// Header is sent with the opening handshake (Authorization, Origin).
	Header http.Header
	// Timeout bounds the dial, TLS and the handshake; it is also the write
	// timeout of pongs. Zero means 10 seconds.
	Timeout time.Duration
	// TLS configures wss:// connections; nil means the system roots and
	// the URL's host name.
	TLS *tls.Config
	// MaxMessage is the largest message Next returns; longer ones are
	// skipped. Zero means 4 MiB.
	MaxMessage int
}

func (o *Options) defaults() {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 4 << 20
	}
}

// acceptGUID is RFC 6455's fixed key suffix.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Dial opens a WebSocket connection to u (ws:// or wss://).
func Dial(ctx context.Context, u *url.URL, o Options) (*Conn, error) {
	o.defaults()
	var secure bool
	switch u.Scheme {
	case "ws":
	case "wss":
		secure = true
	default:
		return nil, fmt.Errorf("websocket: scheme %q: want ws or wss", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[bool]string{false: "80", true: "443"}[secure])
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	// The handshake honours ctx through the deadline; a cancel closes it.
	if dl, has := ctx.Deadline(); has {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if secure {
		conf := o.TLS.Clone()
		if conf == nil {
			conf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if conf.ServerName == "" {
			conf.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		nc = tc
	}
	pending, err := handshake(nc, u, o.Header)
	if err != nil {
		return nil, err
	}
	if !stop() {
		return nil, ctx.Err() // cancelled at the last moment: the deadline is spoilt
	}
	_ = nc.SetDeadline(time.Time{})
	ok = true
	return newConn(nc, pending, o.MaxMessage, o.Timeout), nil
}

// handshake sends the opening handshake and checks the answer. It returns
// what the server sent after its answer (the first frames, possibly).
func handshake(nc net.Conn, u *url.URL, h http.Header) ([]byte, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := &http.Request{
		Method: http.MethodGet, URL: &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h.Clone(),
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(nc); err != nil {
		return nil, fmt.Errorf("websocket: handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("websocket: handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("websocket: handshake: %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + acceptGUID)) //nolint:gosec // the protocol's choice
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		return nil, errors.New("websocket: handshake: no Upgrade: websocket in the answer")
	case !hasToken(resp.Header.Values("Connection"), "upgrade"):
		return nil, errors.New("websocket: handshake: no Connection: Upgrade in the answer")
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		return nil, errors.New("websocket: handshake: wrong Sec-WebSocket-Accept")
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		return nil, errors.New("websocket: handshake: the server chose an extension that was not offered")
	}
	pending, _ := br.Peek(br.Buffered())
	return pending, nil
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
