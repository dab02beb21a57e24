package ami

import "github.com/callbridge/callbridge/internal/reconnect"

// Status reports whether the manager connection is up and in sync (logged
// in, the channel list reconciled), and why not.
func (c *Client) Status() reconnect.Status { return c.state.Get() }
