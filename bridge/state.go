package bridge

import "time"

// channel is one leg as the engine tracks it.
type channel struct {
	id, name, endpoint string
	user               *User
	trunk              bool
	localKey           string   // non-empty for Local channels
	localHalf          int      // 1 or 2
	partner            *channel // the other half of a Local pair

	call *call // follow with root()
	uleg *userLeg

	state                    ChannelState
	callerNum, callerName    string
	connNum, connName        string
	exten, context           string // as first seen: what was dialled
	incoming                 bool   // called in to the PBX rather than dialled by it
	created                  time.Time
	bridge                   string
	dialer                   *channel // the channel that dialled this one
	dialString               string
	peerStatus               string // first final status of the Dial to this channel
	outStatus                string // status of this channel's own dialling
	varStatus                string // DIALSTATUS set on it
	offeredAt, ringAt, endAt time.Time
	cause                    int
	gone                     bool
}

// party is the other side of a user's activity.
type party struct {
	number, name, ddi string
	user              *User
}

type userLeg struct {
	user  *User
	call  *call
	dir   Direction
	chans []*channel
	live  int
	// started is when the user placed the call (outbound) or was first
	// offered it (inbound); startedAt() refines the latter to ringing.
	started time.Time
	// answered is when the user's leg was first bridged with another party.
	answered      time.Time
	ended         time.Time
	transferAt    time.Time // the user transferred the call away
	transferredBy string
	remote        party
	rewired       bool // remote set by a transfer: keep it
	sentRinging   bool
	sentEnded     bool
}

type call struct {
	id     string
	first  time.Time
	parent *call
	live   int
	legs   []*userLeg
	chans  []*channel
	// privacy is the most restrictive class any channel was marked with.
	privacy    string
	linked     []string // source linked ids that point at this call
	transferBy string
	transferAt time.Time
}

func (c *call) root() *call {
	for c.parent != nil {
		if c.parent.parent != nil {
			c.parent = c.parent.parent
		}
		c = c.parent
	}
	return c
}

func (c *channel) callRoot() *call { return c.call.root() }
