package cards

import (
	"fmt"
	"testing"

	"github.com/callbridge/callbridge/internal/phone"
)

// Remembered forms are the normalizer's own, and the memory stays bounded
// however many numbers come by.
func TestFormsRememberedAndBounded(t *testing.T) {
	n := phone.NewNormalizer("FI")
	e := New(Options{Normalizer: n})
	for i := range 3 * maxForms {
		num := fmt.Sprintf("040%07d", i%(maxForms+100))
		got := e.forms(num)
		e164, ok := n.Normalize(num)
		if !ok || got.e164 != e164 || got.national != n.National(e164) {
			t.Fatalf("%s: forms %+v, normalizer %q %q", num, got, e164, n.National(e164))
		}
		if len(e.numbers) > maxForms {
			t.Fatalf("%d numbers remembered, at most %d", len(e.numbers), maxForms)
		}
	}
	if got := e.forms("not a number"); got != (numberForms{}) {
		t.Fatalf("forms of a non-number: %+v", got)
	}
}
