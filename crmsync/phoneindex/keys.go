package phoneindex

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// A number's keys: E.164 digits packed into a uint64 for exact matches, the
// last significant digits (with their count) for numbers that do not
// normalise.

func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitsKey packs up to 15 digits without a leading zero into a number.
func digitsKey(d string) (uint64, bool) {
	if d == "" || len(d) > 15 || d[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(d, 10, 64)
	return v, err == nil
}

// tailKey keys the last n significant digits of d (leading zeros, the
// trunk or international prefix, are not significant). A number with fewer
// than n but at least minTail significant digits keys them all; the length
// is part of the key so "0123456" and "123456" differ.
func tailKey(d string, n int) (uint64, bool) {
	d = strings.TrimLeft(d, "0")
	if len(d) < minTail {
		return 0, false
	}
	if len(d) > n {
		d = d[len(d)-n:]
	}
	v, err := strconv.ParseUint(d, 10, 64)
	if err != nil {
		return 0, false
	}
	return uint64(len(d))<<56 | v, true
}

// compact drops the visual separators people type into numbers.
func compact(s string) string {
	if len(s) > 32 {
		return s
	}
	var b [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '-', '.', '(', ')', '/':
		default:
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// digitsOf keeps the digits of s, at most 32 (more is not a number).
func digitsOf(s string) string {
	var b [32]byte
	n := 0
	for i := 0; i < len(s) && n < len(b); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// nationalSignificant strips the country code from E.164 digits. Country
// codes are prefix-free, so the first known prefix is the one.
func nationalSignificant(d string) string {
	for l := 1; l <= 3 && l < len(d); l++ {
		cc, _ := strconv.Atoi(d[:l])
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) > 0 {
			return d[l:]
		}
	}
	return d
}
