package fakesalesforce

import "testing"

// FuzzParseSOQL feeds the fake's SOQL parser the queries callbridge sends
// and whatever the fuzzer makes of them: an error, never a panic.
func FuzzParseSOQL(f *testing.F) {
	for _, q := range []string{
		"SELECT Id, CallObject FROM Task WHERE CallObject IN ('a1', 'b\\'2')",
		"SELECT Id, Email, Name, IsActive FROM User WHERE UserType = 'Standard'",
		"SELECT Id, Name, SystemModstamp, Phone, MobilePhone, AccountId FROM Contact WHERE SystemModstamp >= 2026-11-21T16:11:10Z ORDER BY SystemModstamp",
		"SELECT Id FROM Lead WHERE IsConverted = false LIMIT 10",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if p, err := parseSOQL(q); err == nil && (p.object == "" || len(p.fields) == 0) {
			t.Fatalf("%q parsed without object or fields", q)
		}
	})
}
