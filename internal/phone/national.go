package phone

import "github.com/nyaruka/phonenumbers"

// National writes an E.164 number the way a user of the default region
// dials it: the region's national form, digits only ("+358401234567" in FI
// gives "0401234567"). A number of another country, one whose national
// form would read back as another number, or any input that is not E.164
// comes back as it is. Without a region nothing changes.
func (n Normalizer) National(e164 string) string {
	if n.region == "" || len(e164) < 3 || len(e164) > 16 || e164[0] != '+' {
		return e164
	}
	out, ok := national(e164, n.region)
	if !ok {
		return e164
	}
	// Some national forms (service numbers without a trunk prefix) read
	// back as another number: dialled from here they would reach it.
	if back, ok := n.Normalize(out); !ok || back != e164 {
		return e164
	}
	return out
}

func national(e164, region string) (out string, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = "", false
		}
	}()
	pn, err := phonenumbers.Parse(e164, region)
	if err != nil || phonenumbers.GetRegionCodeForNumber(pn) != region &&
		int(pn.GetCountryCode()) != phonenumbers.GetCountryCodeForRegion(region) {
		return "", false
	}
	f := phonenumbers.Format(pn, phonenumbers.NATIONAL)
	b := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		if c := f[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b), len(b) > 0
}
