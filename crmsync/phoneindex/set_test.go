package phoneindex

import "testing"

func names(all []*Integration) (out []string) {
	for _, in := range all {
		out = append(out, in.Name())
	}
	return out
}

// TestSetAll: All is every index by name, and a slice it gave stays as
// it was when the set changes.
func TestSetAll(t *testing.T) {
	var s Set
	if got := s.All(); len(got) != 0 {
		t.Fatalf("empty set: All = %v", names(got))
	}
	s.Set("zoho", &Integration{name: "zoho"})
	s.Set("dyn", &Integration{name: "dyn"})
	before := s.All()
	s.Set("hubspot", &Integration{name: "hubspot"})
	replaced := &Integration{name: "dyn"}
	s.Set("dyn", replaced)
	if got := names(s.All()); len(got) != 3 || got[0] != "dyn" || got[1] != "hubspot" || got[2] != "zoho" {
		t.Fatalf("All = %v, want [dyn hubspot zoho]", got)
	}
	if s.All()[0] != replaced {
		t.Fatal("All still has the replaced index")
	}
	if got := names(before); len(got) != 2 || got[0] != "dyn" || got[1] != "zoho" || before[0] == replaced {
		t.Fatalf("a slice All gave before changed to %v", got)
	}
}
