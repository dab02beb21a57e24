package ari

import "github.com/callbridge/callbridge/internal/reconnect"

// Status reports whether the events websocket is up and in sync (the
// channel list reconciled), and why not.
func (s *Source) Status() reconnect.Status { return s.state.Get() }
