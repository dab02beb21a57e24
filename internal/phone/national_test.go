package phone

import "testing"

func TestNational(t *testing.T) {
	for _, tt := range []struct{ region, in, want string }{
		{"FI", "+358401234567", "0401234567"},
		{"FI", "+35850111222", "050111222"},
		{"FI", "+14155552671", "+14155552671"}, // another country: kept international
		{"US", "+14155552671", "4155552671"},
		{"DE", "+493012345678", "03012345678"},
		{"FI", "0401234567", "0401234567"}, // not E.164: as it is
		{"FI", "101", "101"},
		{"FI", "", ""},
		{"", "+358401234567", "+358401234567"},
		{"FI", "+999", "+999"},
	} {
		if got := NewNormalizer(tt.region).National(tt.in); got != tt.want {
			t.Errorf("National(%q) in %q = %q, want %q", tt.in, tt.region, got, tt.want)
		}
	}
}
