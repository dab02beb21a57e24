package faulttest

import (
	"net"
	"testing"
)

// freeAddr finds a free loopback port. Another process could take it
// before the caller listens; on a test machine that is rare enough.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
