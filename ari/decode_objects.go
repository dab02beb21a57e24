package ari

import (
	"github.com/CyCoreSystems/ari/v5"
	"github.com/gogo/protobuf/types"
)

// The Decoder's readers of the objects inside an event: channels, caller
// ids, dialplan positions and bridges, each into ari/v5's own structs.

// channel reads an ari.ChannelData (channelDataJSON's fields) into s.
func (d *Decoder) channel(i int, s *chanSlot) int {
	b := d.b
	s.cd, s.app = ari.ChannelData{}, ""
	var seen uint16
	i, more := openObject(b, i)
	for more {
		k, v := memberKey(b, i)
		if v == bail {
			return bail
		}
		if i = d.channelValue(k, v, s, &seen); i == bail {
			return bail
		}
		i, more = nextMember(b, i)
	}
	return i
}

// channelValue reads the value at b[i] of the channel's member k; seen
// has a bit per member met.
func (d *Decoder) channelValue(k []byte, i int, s *chanSlot, seen *uint16) int {
	b := d.b
	var f uint16
	switch string(k) {
	case "id":
		f = 1 << 0
	case "name":
		f = 1 << 1
	case "state":
		f = 1 << 2
	case "accountcode":
		f = 1 << 3
	case "caller":
		f = 1 << 4
	case "connected":
		f = 1 << 5
	case "creationtime":
		f = 1 << 6
	case "dialplan":
		f = 1 << 7
	case "channelvars":
		f = 1 << 8
	case "key":
		f = 1 << 9
	default:
		return skipMember(b, k, i)
	}
	if *seen&f != 0 {
		return bail
	}
	*seen |= f
	switch f {
	case 1 << 0:
		return d.str(i, &s.cd.ID)
	case 1 << 1:
		return d.str(i, &s.cd.Name)
	case 1 << 2:
		return d.str(i, &s.cd.State)
	case 1 << 3:
		return checkString(b, i)
	case 1 << 4:
		return d.callerID(i, &s.cd.Caller, &s.caller)
	case 1 << 5:
		return d.callerID(i, &s.cd.Connected, &s.connected)
	case 1 << 6:
		// encoding/json calls DateTime's UnmarshalJSON for null too,
		// which then fails: not ours to decide.
		end, esc, high := scanString(b, i)
		if end == bail || esc || high {
			return bail
		}
		t, ok := d.times.parse(b[i+1 : end-1])
		if !ok {
			return bail
		}
		// As ChannelData.UnmarshalJSON: a time the protobuf timestamp
		// cannot hold is dropped.
		if sec := t.Unix(); sec >= minTimestamp && sec < maxTimestamp {
			s.created = types.Timestamp{Seconds: sec, Nanos: int32(t.Nanosecond())}
			s.cd.Creationtime = &s.created
		}
		return end
	case 1 << 7:
		return d.dialplan(i, s)
	case 1 << 8:
		return checkStringMap(b, i)
	default: // key: only null is ours
		if isNull(b, i) {
			return i + 4
		}
		return bail
	}
}

// The range of a protobuf Timestamp: years 1 to 9999.
const (
	minTimestamp = -62135596800
	maxTimestamp = 253402300800
)

func (d *Decoder) callerID(i int, dst **ari.CallerID, s *ari.CallerID) int {
	b := d.b
	if isNull(b, i) {
		*dst = nil
		return i + 4
	}
	*dst = s
	m, hit := d.memo.callers.find(b, i)
	if hit {
		*s = m.v
		return i + len(m.raw)
	}
	end := d.readCallerID(i, s)
	if m.keep(b, i, end) {
		m.v = *s
	}
	return end
}

func (d *Decoder) readCallerID(i int, s *ari.CallerID) int {
	b := d.b
	*s = ari.CallerID{}
	var seen uint8
	i, more := openObject(b, i)
	for more {
		k, v := memberKey(b, i)
		switch {
		case v == bail:
			return bail
		case string(k) == "name" && seen&1 == 0:
			seen |= 1
			i = d.str(v, &s.Name)
		case string(k) == "number" && seen&2 == 0:
			seen |= 2
			i = d.str(v, &s.Number)
		case string(k) == "name" || string(k) == "number":
			return bail // a repeat
		default:
			i = skipMember(b, k, v)
		}
		if i == bail {
			return bail
		}
		i, more = nextMember(b, i)
	}
	return i
}

func (d *Decoder) dialplan(i int, s *chanSlot) int {
	b := d.b
	if isNull(b, i) {
		return i + 4
	}
	s.cd.Dialplan = &s.dialplan
	m, hit := d.memo.dialplan.find(b, i)
	if hit {
		s.dialplan, s.app = m.v.cep, m.v.app
		return i + len(m.raw)
	}
	end := d.readDialplan(i, s)
	if m.keep(b, i, end) {
		m.v = dialplanRead{s.dialplan, s.app}
	}
	return end
}

func (d *Decoder) readDialplan(i int, s *chanSlot) int {
	b := d.b
	s.dialplan, s.app = ari.DialplanCEP{}, ""
	var seen uint8
	i, more := openObject(b, i)
	for more {
		k, v := memberKey(b, i)
		if v == bail {
			return bail
		}
		var f uint8
		switch string(k) {
		case "context":
			f = 1
		case "exten":
			f = 2
		case "priority":
			f = 4
		case "app_name":
			f = 8
		default:
			if i = skipMember(b, k, v); i == bail {
				return bail
			}
			i, more = nextMember(b, i)
			continue
		}
		if seen&f != 0 {
			return bail
		}
		seen |= f
		switch f {
		case 1:
			i = d.str(v, &s.dialplan.Context)
		case 2:
			i = d.str(v, &s.dialplan.Exten)
		case 4:
			if isNull(b, v) {
				i = v + 4
			} else {
				i, _ = scanInt(b, v)
			}
		default:
			i = d.str(v, &s.app)
		}
		if i == bail {
			return bail
		}
		i, more = nextMember(b, i)
	}
	return i
}

// checkStringMap validates a map[string]string value (channelvars): its
// keys are data, any string.
func checkStringMap(b []byte, i int) int {
	i, more := openObject(b, i)
	for more {
		if i, _, _ = scanString(b, i); i == bail {
			return bail
		}
		if i = skipSpace(b, i); at(b, i) != ':' {
			return bail
		}
		if i = checkString(b, skipSpace(b, i+1)); i == bail {
			return bail
		}
		i, more = nextMember(b, i)
	}
	return i
}

// bridgeData reads an ari.BridgeData.
func (d *Decoder) bridgeData(i int, br *ari.BridgeData) int {
	b := d.b
	*br = ari.BridgeData{}
	var seen uint8
	i, more := openObject(b, i)
	for more {
		k, v := memberKey(b, i)
		if v == bail {
			return bail
		}
		if i = d.bridgeValue(k, v, br, &seen); i == bail {
			return bail
		}
		i, more = nextMember(b, i)
	}
	return i
}

// bridgeValue reads the value at b[i] of the bridge's member k.
func (d *Decoder) bridgeValue(k []byte, i int, br *ari.BridgeData, seen *uint8) int {
	b := d.b
	var f uint8
	switch string(k) {
	case "id":
		f = 1 << 0
	case "bridge_class":
		f = 1 << 1
	case "creator":
		f = 1 << 2
	case "bridge_type", "name", "technology":
		return checkString(b, i) // not kept; a repeat is harmless
	case "channels":
		f = 1 << 3
	case "key":
		f = 1 << 4
	default:
		return skipMember(b, k, i)
	}
	if *seen&f != 0 {
		return bail
	}
	*seen |= f
	switch f {
	case 1 << 0:
		return d.str(i, &br.ID)
	case 1 << 1:
		return d.str(i, &br.Class)
	case 1 << 2:
		return d.str(i, &br.Creator)
	case 1 << 3:
		return checkStrings(b, i)
	default:
		if isNull(b, i) {
			return i + 4
		}
		return bail
	}
}

// checkStrings validates a []string value.
func checkStrings(b []byte, i int) int {
	if at(b, i) == 'n' {
		return literal(b, i, "null")
	}
	if at(b, i) != '[' {
		return bail
	}
	i = skipSpace(b, i+1)
	if at(b, i) == ']' {
		return i + 1
	}
	for {
		if i = checkString(b, i); i == bail {
			return bail
		}
		if i = skipSpace(b, i); at(b, i) == ']' {
			return i + 1
		}
		if at(b, i) != ',' {
			return bail
		}
		i = skipSpace(b, i+1)
	}
}
