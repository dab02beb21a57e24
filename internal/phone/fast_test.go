package phone

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// checkFast compares the fast path with the full parse for one input; it
// reports whether the fast path decided.
func checkFast(t *testing.T, num, region string) bool {
	t.Helper()
	e164, ok, sure := fastNormalize(num, region)
	if !sure {
		return false
	}
	want, wok := parse(num, region)
	if e164 != want || ok != wok {
		t.Errorf("%s in %s: fast path %q, %v; phonenumbers %q, %v", num, region, e164, ok, want, wok)
	}
	return true
}

func regions() []string {
	var rs []string
	for r := range phonenumbers.GetSupportedRegions() {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// TestFastPathEveryRegion: in every region phonenumbers supports, numbers
// in national form (with the region's national prefix and without) and in
// international form, of every length from 3 to 17 digits, give what the
// full parse gives; and the fast path decides most of the everyday ones.
func TestFastPathEveryRegion(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rnd.IntN(10))
		}
		return string(b)
	}
	byRegion, _ := metas()
	decided, tried := 0, 0
	for _, r := range regions() {
		m := byRegion[r]
		if m == nil {
			t.Errorf("%s: no metadata", r)
			continue
		}
		np := ""
		if md := phonenumbers.GetCountryCodeForRegion(r); md != 0 {
			np = nationalPrefix(r)
		}
		for n := 3; n <= 17; n++ {
			for range 4 {
				for _, num := range []string{np + digits(n), digits(n), "+" + m.ccStr + digits(n), "+" + digits(n)} {
					tried++
					if checkFast(t, num, r) {
						decided++
					}
				}
			}
		}
	}
	t.Logf("the fast path decided %d of %d numbers", decided, tried)
	if decided < tried/3 {
		t.Errorf("the fast path decided only %d of %d numbers", decided, tried)
	}
}

// nationalPrefix is the region's national prefix, found by formatting an
// example number nationally.
func nationalPrefix(region string) string {
	ex := phonenumbers.GetExampleNumber(region)
	if ex == nil {
		return ""
	}
	nat := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phonenumbers.Format(ex, phonenumbers.NATIONAL))
	nsn := phonenumbers.GetNationalSignificantNumber(ex)
	if i := strings.Index(nat, nsn); i > 0 {
		return nat[:i]
	}
	return ""
}

// The numbers of the recordings and the tests decide on the fast path and
// agree.
func TestFastPathTable(t *testing.T) {
	for _, tt := range []struct {
		region, num string
		fast        bool
	}{
		{"FI", "0401234567", true},
		{"FI", "+358401234567", true},
		{"FI", "+35850111222", true},
		{"FI", "0409999999", true},
		{"FI", "101", true},
		{"FI", "00358401234567", false}, // international prefix
		{"FI", "358401234567", false},   // the country code without '+'
		{"FI", "+3580401234567", false}, // national prefix after the country code
		{"FI", "040 123 4567", false},   // separators: the full parse
		{"US", "4155552671", true},
		{"US", "+14155552671", true},
		{"US", "14155552671", false},
		{"GB", "02079460958", true},
		{"DE", "030123456", true},
		{"IT", "0612345678", false}, // Italian leading zero
		{"SE", "0701234567", true},
		{"FI", "+999123", false}, // no such country code
		{"FI", "+8001234567", true},
	} {
		if got := checkFast(t, tt.num, tt.region); got != tt.fast {
			t.Errorf("%s in %s: fast path decided %v, want %v", tt.num, tt.region, got, tt.fast)
		}
	}
}

// FuzzFastPath compares the fast path with the full parse on arbitrary
// digits in arbitrary regions.
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{"0401234567", "+358401234567", "101", "4155552671", "+14155552671", "0612345678", "+8001234567"} {
		f.Add(uint16(0), s)
	}
	rs := regions()
	f.Fuzz(func(t *testing.T, ri uint16, num string) {
		r := rs[int(ri)%len(rs)]
		for _, region := range []string{r, "FI"} {
			if len(num) <= MaxLen && plausible(num) {
				checkFast(t, num, region)
			}
		}
	})
}

func BenchmarkNormalizeSlow(b *testing.B) {
	for _, num := range []string{"0401234567", "+358401234567"} {
		b.Run(num, func(b *testing.B) {
			for b.Loop() {
				parse(num, "FI")
			}
		})
	}
}

func BenchmarkNormalizeFast(b *testing.B) {
	n := NewNormalizer("FI")
	for _, num := range []string{"0401234567", "+358401234567"} {
		b.Run(num, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := n.Normalize(num); !ok {
					b.Fatal(fmt.Sprint("not a number: ", num))
				}
			}
		})
	}
}
