package fakeari

import (
	"encoding/json"
	"slices"
	"strings"
)

// state is what Asterisk would answer over REST after the events played so
// far: a channel lives from ChannelCreated to ChannelDestroyed, a bridge from
// BridgeCreated to BridgeDestroyed, and bridge membership follows
// ChannelEnteredBridge and ChannelLeftBridge. Each object is kept as the
// JSON of its latest appearance in an event, which is the shape REST uses.
type state struct {
	channels  map[string]json.RawMessage
	chanOrder []string
	bridges   map[string]*bridgeState
	brOrder   []string
	endpoints map[string]*endpoint // "PJSIP/101"
	epOrder   []string
}

type bridgeState struct {
	raw     json.RawMessage
	members []string
}

type endpoint struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

func newState(endpoints []string) *state {
	st := &state{
		channels:  map[string]json.RawMessage{},
		bridges:   map[string]*bridgeState{},
		endpoints: map[string]*endpoint{},
	}
	for _, e := range endpoints {
		if tech, res, ok := strings.Cut(e, "/"); ok {
			st.endpoint(tech, res)
		}
	}
	return st
}

// object is enough of any object in an event to tell channels from bridges.
type object struct {
	ID         string  `json:"id"`
	Name       *string `json:"name"`
	State      *string `json:"state"`
	BridgeType *string `json:"bridge_type"`
}

// apply advances the state by one event. Messages that are not events
// change nothing.
func (st *state) apply(line []byte) {
	var ev map[string]json.RawMessage
	if json.Unmarshal(line, &ev) != nil {
		return
	}
	var typ string
	json.Unmarshal(ev["type"], &typ) //nolint:errcheck // no type, no change
	var chanID, bridgeID string
	for key, raw := range ev {
		var o object
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &o) != nil || o.ID == "" {
			continue
		}
		switch {
		case o.BridgeType != nil:
			if key == "bridge" {
				bridgeID = o.ID
			}
			if b, ok := st.bridges[o.ID]; ok {
				b.raw = raw
			} else if typ == "BridgeCreated" {
				st.bridges[o.ID] = &bridgeState{raw: raw}
				st.brOrder = append(st.brOrder, o.ID)
			}
		case o.Name != nil && o.State != nil:
			if key == "channel" {
				chanID = o.ID
			}
			if _, ok := st.channels[o.ID]; ok {
				st.channels[o.ID] = raw
			} else if typ == "ChannelCreated" && key == "channel" {
				st.channels[o.ID] = raw
				st.chanOrder = append(st.chanOrder, o.ID)
				if tech, res, ok := endpointOf(*o.Name); ok {
					st.endpoint(tech, res)
				}
			}
		}
	}
	switch typ {
	case "ChannelDestroyed":
		delete(st.channels, chanID)
		st.chanOrder = remove(st.chanOrder, chanID)
		for _, b := range st.bridges {
			b.members = remove(b.members, chanID)
		}
	case "BridgeDestroyed":
		delete(st.bridges, bridgeID)
		st.brOrder = remove(st.brOrder, bridgeID)
	case "ChannelEnteredBridge":
		if b, ok := st.bridges[bridgeID]; ok && st.channels[chanID] != nil && !slices.Contains(b.members, chanID) {
			b.members = append(b.members, chanID)
		}
	case "ChannelLeftBridge":
		if b, ok := st.bridges[bridgeID]; ok {
			b.members = remove(b.members, chanID)
		}
	}
}

func remove(s []string, v string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == v })
}

// endpointOf parses "PJSIP/101-0000000a" into its endpoint. Local channels
// belong to no endpoint.
func endpointOf(name string) (tech, resource string, ok bool) {
	tech, rest, ok := strings.Cut(name, "/")
	if !ok || tech == "Local" {
		return "", "", false
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	return tech, rest, rest != ""
}

func (st *state) endpoint(tech, res string) {
	key := tech + "/" + res
	if _, ok := st.endpoints[key]; !ok {
		st.endpoints[key] = &endpoint{Technology: tech, Resource: res, State: "online"}
		st.epOrder = append(st.epOrder, key)
	}
}

func (st *state) channelList() []json.RawMessage {
	out := make([]json.RawMessage, 0, len(st.chanOrder))
	for _, id := range st.chanOrder {
		out = append(out, st.channels[id])
	}
	return out
}

// bridge is one bridge as REST shows it: its latest attributes with the
// membership the events imply.
func (st *state) bridge(id string) (json.RawMessage, bool) {
	b, ok := st.bridges[id]
	if !ok {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b.raw, &m) != nil {
		return b.raw, true
	}
	members := b.members
	if members == nil {
		members = []string{}
	}
	m["channels"], _ = json.Marshal(members)
	out, _ := json.Marshal(m)
	return out, true
}

func (st *state) bridgeList() []json.RawMessage {
	out := make([]json.RawMessage, 0, len(st.brOrder))
	for _, id := range st.brOrder {
		b, _ := st.bridge(id)
		out = append(out, b)
	}
	return out
}

func (st *state) endpointList() []endpoint {
	out := make([]endpoint, 0, len(st.epOrder))
	for _, key := range st.epOrder {
		e := *st.endpoints[key]
		e.ChannelIDs = []string{}
		for _, id := range st.chanOrder {
			var o object
			if json.Unmarshal(st.channels[id], &o) == nil && o.Name != nil {
				if tech, res, ok := endpointOf(*o.Name); ok && tech+"/"+res == key {
					e.ChannelIDs = append(e.ChannelIDs, id)
				}
			}
		}
		out = append(out, e)
	}
	return out
}
