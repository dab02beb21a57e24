package rest

import (
	"net/http"
	"net/url"
	"time"
)

// The preset connectors share these checks of their config and the HTTP
// client built from it.

// CountSet is how many of bs are true: how many of a secret's sources
// (the value, a file, a systemd credential) are set, of which exactly one
// must be.
func CountSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// AbsURL says whether s is an absolute http or https URL with a host and
// neither user info nor a query: a base the client can join API paths to
// without leaking credentials into logs.
func AbsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && u.RawQuery == ""
}

// HTTPClient is given, or when given is nil a client with its own
// transport, keeping up to 64 idle connections to the API (one per
// concurrency slot and then some) and giving up on a request after
// timeout.
func HTTPClient(given *http.Client, timeout time.Duration) *http.Client {
	if given != nil {
		return given
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: timeout}
}
