package journal

import (
	"fmt"
	"testing"
)

// The table finds what a map would, through puts, deletions (which move
// entries back), a filter and resets.
func TestChanSetIsAMap(t *testing.T) {
	var s chanSet
	want := map[string]*described{}
	check := func(step int) {
		t.Helper()
		if s.n != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, s.n, len(want))
		}
		for id, d := range want {
			if s.get(id) != d {
				t.Fatalf("step %d: %s not found", step, id)
			}
		}
		n := 0
		s.each(func(*described) { n++ })
		if n != len(want) || s.get("absent") != nil {
			t.Fatalf("step %d: each gave %d", step, n)
		}
	}
	for step := range 4000 {
		id := fmt.Sprintf("1700000000.%d", hash(fmt.Sprint(step), 1)%700)
		switch {
		case step%3 == 2:
			s.del(id)
			delete(want, id)
		default:
			d := &described{id: id}
			s.put(d)
			want[id] = d
		}
		if step%500 == 499 {
			s.keep(func(d *described) bool { return hash(d.id, 2)%4 == 0 })
			for id := range want {
				if hash(id, 2)%4 != 0 {
					delete(want, id)
				}
			}
		}
		check(step)
	}
	s.keep(func(*described) bool { return false })
	clear(want)
	check(-1)
	if len(s.slots) > 8 {
		t.Fatalf("%d slots left for no entry", len(s.slots))
	}
	s.put(&described{id: "x"})
	s.reset()
	check(-2)
}
