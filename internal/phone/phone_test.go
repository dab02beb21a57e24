package phone

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct {
		region, in, want string
		ok               bool
	}{
		{"FI", "+358401234567", "+358401234567", true},
		{"FI", "0401234567", "+358401234567", true},
		{"FI", "00358401234567", "+358401234567", true},
		{"FI", "+358 40 123 4567", "+358401234567", true},
		{"FI", "040-123 4567", "+358401234567", true},
		{"fi", "0401234567", "+358401234567", true},
		{"FI", "+35850111222", "+35850111222", true},
		{"FI", "+14155552671", "+14155552671", true},
		{"US", "(415) 555-2671", "+14155552671", true},
		{"FI", "101", "", false},
		{"FI", "anonymous", "", false},
		{"FI", "Restricted", "", false},
		{"FI", "*8", "", false},
		{"FI", "*990401234567", "", false},
		{"FI", "", "", false},
		{"FI", "   ", "", false},
		{"FI", "++358401234567", "", false},
		{"FI", "0401234567@pstn", "", false},
		{"FI", "1-800-FLOWERS", "", false},
		{"FI", "040123456701234567890123456789012345678901234567890123456789012345", "", false},
		{"", "+358401234567", "", false},
		{"XX", "+358401234567", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.in, func(t *testing.T) {
			got, ok := NewNormalizer(tt.region).Normalize(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Normalize(%q) in %q = %q, %v; want %q, %v", tt.in, tt.region, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSupportedRegion(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"FI", true}, {"fi", true}, {"SE", true}, {"US", true},
		{"", false}, {"XX", false}, {"FIN", false}, {"001", false}, {"F", false},
	}
	for _, tt := range tests {
		if got := SupportedRegion(tt.in); got != tt.want {
			t.Errorf("SupportedRegion(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestZeroNormalizer(t *testing.T) {
	var n Normalizer
	if got, ok := n.Normalize("+358401234567"); ok || got != "" {
		t.Errorf("zero Normalizer gave %q, %v", got, ok)
	}
	if n.Region() != "" {
		t.Errorf("zero Normalizer region %q", n.Region())
	}
}

func BenchmarkNormalize(b *testing.B) {
	n := NewNormalizer("FI")
	for b.Loop() {
		n.Normalize("0401234567")
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"+358401234567": "+********4567",
		"040 123 4567":  "*** *** 4567",
		"101":           "101",
		"4567":          "4567",
		"":              "",
		"anonymous":     "anonymous",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
