package ari

import (
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// parseTime reads an ARI timestamp ("2026-11-21T16:09:34.505+0000") exactly
// as ari.DateTime's UnmarshalJSON does (time.Parse with ari.DateFormat),
// location included, so the times the Decoder gives are the ones ari/v5
// gives, down to how they print. The form Asterisk always writes is read
// here directly, at a twentieth of the cost; anything else is left to
// time.Parse.
func parseTime(b []byte) (time.Time, bool) {
	if t, ok := parseCanonicalTime(b); ok {
		return t, true
	}
	t, err := time.Parse(ari.DateFormat, string(b))
	return t, err == nil
}

// timeCache holds the times parsed last. Nearly every message carries the
// timestamp of the one before (Asterisk sends its events in bursts), and
// every event about a channel its creation time: most times a Decoder
// reads are a comparison of 28 bytes away.
type timeCache struct {
	slots [16]struct {
		raw  [28]byte
		t    time.Time
		full bool
	}
}

// parse is parseTime, remembering what it read.
func (c *timeCache) parse(b []byte) (time.Time, bool) {
	if len(b) != 28 {
		return parseTime(b)
	}
	// The last digits of the seconds and milliseconds pick the slot.
	s := &c.slots[(uint(b[22])+uint(b[21])*3+uint(b[18])*7)%uint(len(c.slots))]
	if s.full && string(s.raw[:]) == string(b) {
		return s.t, true
	}
	t, ok := parseTime(b)
	if ok {
		copy(s.raw[:], b)
		s.t, s.full = t, true
	}
	return t, ok
}

// parseCanonicalTime reads "YYYY-MM-DDTHH:MM:SS.fff±hhmm" with every field
// in its ordinary range. It refuses (for time.Parse to decide) whatever is
// outside that, including the oddities time.Parse tolerates, such as a
// comma before the milliseconds or an offset of 24 hours.
func parseCanonicalTime(b []byte) (time.Time, bool) {
	if len(b) != 28 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' ||
		(b[23] != '+' && b[23] != '-') {
		return time.Time{}, false
	}
	for _, p := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 24, 25, 26, 27} {
		if b[p]-'0' > 9 {
			return time.Time{}, false
		}
	}
	d2 := func(i int) int { return int(b[i]-'0')*10 + int(b[i+1]-'0') }
	year, month, day := d2(0)*100+d2(2), d2(5), d2(8)
	hour, minute, sec, ms := d2(11), d2(14), d2(17), d2(20)*10+int(b[22]-'0')
	zh, zm := d2(24), d2(26)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 ||
		zh > 23 || zm > 59 {
		return time.Time{}, false
	}
	offset := (zh*60 + zm) * 60
	if b[23] == '-' {
		offset = -offset
	}
	unix := int64(daysFromCivil(year, month, day))*86400 + int64(hour*3600+minute*60+sec-offset)
	// As time.Parse: the local zone when it has this offset at that
	// moment, else a fixed zone without a name.
	t := time.Unix(unix, int64(ms)*1e6)
	if _, off := t.Zone(); off == offset {
		return t, true
	}
	return t.In(fixedZone(offset)), true
}

// fixedZones holds one location per offset (int -> *time.Location). A PBX
// whose zone is not the daemon's puts its offset in every timestamp, and a
// new time.FixedZone for each would be three allocations per time read,
// and a location per event for the engine to tell apart from the others.
var fixedZones sync.Map

func fixedZone(offset int) *time.Location {
	if z, ok := fixedZones.Load(offset); ok {
		return z.(*time.Location)
	}
	z, _ := fixedZones.LoadOrStore(offset, time.FixedZone("", offset))
	return z.(*time.Location)
}

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
