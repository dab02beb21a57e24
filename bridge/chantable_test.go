package bridge

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// The table finds what a map would, through puts, replacements and
// deletions (which move entries back, and shrink a table mostly emptied).
func TestChanTableIsAMap(t *testing.T) {
	var tb chanTable
	want := map[string]*channel{}
	check := func(step int) {
		t.Helper()
		if tb.len() != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, tb.len(), len(want))
		}
		for id, c := range want {
			if tb.get(id) != c {
				t.Fatalf("step %d: %s not found", step, id)
			}
		}
		n := 0
		for c := range tb.all() {
			if want[c.id] != c {
				t.Fatalf("step %d: all gave %s, not in the map", step, c.id)
			}
			n++
		}
		if n != len(want) || tb.get("absent") != nil {
			t.Fatalf("step %d: all gave %d", step, n)
		}
	}
	pick := func(step, n int) string {
		h := fnv.New32a()
		fmt.Fprint(h, step)
		return fmt.Sprintf("1700000000.%d", h.Sum32()%uint32(n))
	}
	for step := range 6000 {
		switch {
		case step >= 4000: // the busy hour over: all go
			for id := range want {
				tb.del(id)
				delete(want, id)
				break
			}
		case step%3 == 2:
			id := pick(step, 700)
			tb.del(id)
			delete(want, id)
		default:
			c := &channel{id: pick(step, 700)}
			tb.put(c)
			want[c.id] = c
		}
		check(step)
	}
	if len(want) != 0 || len(tb.slots) > 8 {
		t.Fatalf("%d slots left for %d entries", len(tb.slots), len(want))
	}
}
