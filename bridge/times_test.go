package bridge

import (
	"testing"
	"time"
)

// A stamp gives back the very time it was made from: the same instant, the
// same location, a monotonic reading kept, for times it holds itself and
// for those the engine keeps aside.
func TestStampKeepsTimes(t *testing.T) {
	eet := time.FixedZone("EET", 2*3600)
	now := time.Now() // only for a monotonic reading: its value does not matter
	cases := []struct {
		name string
		t    time.Time
		odd  bool // kept aside, not in the stamp
	}{
		{"utc", time.Date(2026, 11, 21, 12, 0, 0, 123456789, time.UTC), false},
		{"zero", time.Time{}, false},
		{"another zone", time.Date(2026, 11, 21, 14, 0, 0, 0, eet), false},
		{"local", time.Date(2026, 11, 21, 14, 0, 0, 0, time.Local), false},
		{"zero instant in another zone", time.Time{}.In(eet), true},
		{"the epoch", time.Unix(0, 0).UTC(), false},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{"before 1678", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"after 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"monotonic", now, true},
		{"monotonic stripped", now.Round(0).UTC(), false},
	}
	e := New(Config{})
	for _, tc := range cases {
		s := e.stamp(tc.t)
		if got := e.at(s); got != tc.t {
			t.Errorf("%s: %v kept as %d reads back %v", tc.name, tc.t, s, got)
		}
		if s.isZero() != tc.t.IsZero() {
			t.Errorf("%s: isZero %v, IsZero %v", tc.name, s.isZero(), tc.t.IsZero())
		}
		if odd := s.kind == stampOdd || s.kind == stampOddZero; odd != tc.odd {
			t.Errorf("%s: kept aside %v, want %v", tc.name, odd, tc.odd)
		}
		if tc.odd && e.stamp(tc.t) != s {
			t.Errorf("%s: kept aside twice", tc.name)
		}
	}
	// Nothing holds a stamp: what was kept aside goes.
	e.forgetOdd()
	if len(e.odd) != 0 || len(e.oddIndex) != 0 {
		t.Errorf("%d odd times kept with no call open", len(e.odd))
	}
}

// A fixed zone that comes as a new *time.Location with every time
// (time.Parse of an offset Local does not have) is listed once: its times
// read back in the first such location, which reads the same.
func TestStampListsAFixedZoneOnce(t *testing.T) {
	e := New(Config{})
	var first time.Time
	for i := 0; i < 100; i++ {
		in := time.Date(2026, 11, 21, 17, 30, i, 0, time.FixedZone("", 5*3600+1800))
		got := e.at(e.stamp(in))
		if i == 0 {
			first = got
		}
		if !got.Equal(in) || got.Format(time.RFC3339Nano+" MST") != in.Format(time.RFC3339Nano+" MST") || got.Location() != first.Location() {
			t.Fatalf("%v read back as %v", in, got)
		}
	}
	// A fixed zone of another name is a location of its own.
	e.stamp(time.Date(2026, 11, 21, 17, 30, 0, 0, time.FixedZone("IST", 5*3600+1800)))
	if len(e.zones) != 2 {
		t.Errorf("%d zones listed, want 2", len(e.zones))
	}
}

// Activities and live transitions carry the times of the events, in the
// events' own location, whatever it is: the stamps a call's state keeps do
// not turn them into UTC.
func TestTimesKeepTheirZone(t *testing.T) {
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("EET", 2*3600), time.FixedZone("", -5*3600)} {
		s := &script{t0: time.Date(2026, 11, 21, 12, 0, 0, 0, loc)}
		s.create(0, "t1", "PJSIP/pstn-00000001", "Ring", "0401234567", "100").
			create(0.1, "p1", "PJSIP/101-00000002", "Down", "101", "s").
			dial(0.1, "t1", "p1", "").
			state(0.5, "p1", "Ringing").
			dial(4, "t1", "p1", "ANSWER").
			state(4, "p1", "Up").
			enter(4, "t1", "b1").
			enter(4, "p1", "b1").
			leave(9, "t1", "b1").
			hangup(9, "t1", 16).
			leave(9.2, "p1", "b1").
			hangup(9.2, "p1", 16)
		acts, live := s.run(t, Config{Source: "test"})
		if len(acts) != 1 || len(live) != 3 {
			t.Fatalf("%v: %d activities, %d transitions", loc, len(acts), len(live))
		}
		a := acts[0]
		for _, c := range []struct {
			what      string
			got, want time.Time
		}{
			{"started", a.StartedAt, s.at(0.5)},
			{"answered", a.AnsweredAt, s.at(4)},
			{"ended", a.EndedAt, s.at(9)},
			{"ringing", live[0].Time, s.at(0.5)},
			{"connected", live[1].Time, s.at(4)},
			{"ended live", live[2].Time, s.at(9)},
		} {
			if c.got != c.want {
				t.Errorf("%v: %s at %v, want %v", loc, c.what, c.got, c.want)
			}
		}
	}
}
