package ami

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

const idEndpoints = "callbridge-endpoints"

// Endpoints lists the PBX's PJSIP endpoints (Action: PJSIPShowEndpoints),
// for `callbridge users import` on installations that expose AMI only. It
// opens its own short connection, logs in as Run does, and closes it.
func (c *Client) Endpoints(ctx context.Context) ([]string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rd := NewReader(conn)
	if err := c.login(conn, rd); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.cfg.DialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if err := c.send(conn, action("PJSIPShowEndpoints", idEndpoints)); err != nil {
		return nil, err
	}
	var names []string
	for {
		pkt, err := rd.ReadPacket()
		if errors.Is(err, ErrMalformed) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("ami: PJSIPShowEndpoints: %w", err)
		}
		m, err := parse(pkt)
		if err != nil || field(m, "ActionID") != idEndpoints {
			continue // call events go by on this connection too
		}
		switch {
		case field(m, "Response") == "Error":
			return nil, fmt.Errorf("ami: PJSIPShowEndpoints refused: %q (the manager.conf user needs read = system or write = system)", c.redact(field(m, "Message")))
		case field(m, "Event") == "EndpointList":
			if n := field(m, "ObjectName"); n != "" {
				names = append(names, n)
			}
		case field(m, "Event") == "EndpointListComplete":
			sort.Strings(names)
			return names, nil
		}
	}
}
