package rest

import "net/url"

// The connectors' Validate methods share these checks of their config.

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
