package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MaxLen bounds the input the normaliser looks at. E.164 allows 15 digits;
// with spaces, punctuation and an international prefix a genuine number
// stays far below this, so longer input is rejected before any parsing.
const MaxLen = 64

// SupportedRegion reports whether region (ISO 3166-1 alpha-2, any case, e.g.
// "FI" or "fi") is one for which numbers can be normalised.
func SupportedRegion(region string) bool {
	r := strings.ToUpper(region)
	if len(r) != 2 {
		return false
	}
	return phonenumbers.GetSupportedRegions()[r]
}

// Normalizer turns numbers into E.164 using a default region for numbers
// written in national form. The zero value has no region: nothing is
// normalised, as docs/activity.md ties remote_e164 to a configured region.
type Normalizer struct {
	region string
}

// NewNormalizer returns a normaliser for region ("FI"). An empty or
// unsupported region gives one that normalises nothing.
func NewNormalizer(region string) Normalizer {
	r := strings.ToUpper(region)
	if !SupportedRegion(r) {
		return Normalizer{}
	}
	return Normalizer{region: r}
}

// Region is the upper-case region in use, "" when none.
func (n Normalizer) Region() string { return n.region }

// Normalize returns num in E.164 form and true when num is a possible
// telephone number (right length for its country) given the default region.
// Internal extensions ("101"), caller ids that are not numbers
// ("anonymous"), feature codes ("*8") and anything longer than MaxLen give
// "", false. It never panics.
func (n Normalizer) Normalize(num string) (e164 string, ok bool) {
	if n.region == "" {
		return "", false
	}
	num = strings.TrimSpace(num)
	if num == "" || len(num) > MaxLen || !plausible(num) {
		return "", false
	}
	if e164, ok, sure := fastNormalize(num, n.region); sure {
		return e164, ok
	}
	return parse(num, n.region)
}

// parse is isolated so that a panic inside the library — it has had some on
// odd input in the past — turns into "not a number" rather than taking the
// caller down.
func parse(num, region string) (e164 string, ok bool) {
	defer func() {
		if recover() != nil {
			e164, ok = "", false
		}
	}()
	pn, err := phonenumbers.Parse(num, region)
	if err != nil || !phonenumbers.IsPossibleNumber(pn) {
		return "", false
	}
	e164 = phonenumbers.Format(pn, phonenumbers.E164)
	// An E.164 string that does not parse back to itself (seen with runs
	// of zeros after some country codes) would match nothing reliably in
	// a CRM; treat the input as not a number.
	back, err := phonenumbers.Parse(e164, region)
	if err != nil || phonenumbers.Format(back, phonenumbers.E164) != e164 {
		return "", false
	}
	return e164, true
}

// plausible accepts only what a dialled or presented number is made of:
// digits, one leading '+', and the usual visual separators. Letters are
// refused on purpose: the library would read "1-800-FLOWERS" style vanity
// numbers, but on a PBX letters mean a name or "anonymous", never a number.
func plausible(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ', r == '-', r == '.', r == '(', r == ')', r == '/':
		default:
			return false
		}
	}
	return digits > 0
}

// Mask hides every digit of num but the last four, for logs: a number is
// personal data, and its tail is enough to tell calls apart. Separators
// and a leading '+' stay; anything that is not a digit is kept as it is
// (short extensions come out whole).
func Mask(num string) string {
	digits := 0
	for i := 0; i < len(num); i++ {
		if num[i] >= '0' && num[i] <= '9' {
			digits++
		}
	}
	if digits <= 4 {
		return num
	}
	b := []byte(num)
	hide := digits - 4
	for i := 0; i < len(b) && hide > 0; i++ {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = '*'
			hide--
		}
	}
	return string(b)
}
