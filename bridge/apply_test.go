package bridge_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
)

// ApplyAppend gives what Apply gives, after what the slice held, on every
// event of every recording: two engines fed the same events stay the same.
func TestApplyAppendIsApply(t *testing.T) {
	for _, name := range scenarioNames(t) {
		f, err := os.Open(filepath.Join(recordings, name, "ari.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		one, two := bridge.New(defaultConfig("ari")), bridge.New(defaultConfig("ari"))
		mark := bridge.Transition{CallID: "held before"}
		buf := []bridge.Transition{mark}
		n := 0
		_, err = ari.ReadRecording(f, func(ev bridge.Event) {
			want := one.Apply(ev)
			buf = two.ApplyAppend(buf[:1], ev)
			if got := buf[1:]; buf[0] != mark || len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, event %d: ApplyAppend gave %+v after %+v, Apply %+v", name, n, got, buf[0], want)
			}
			n += len(want)
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("%s: no transitions", name)
		}
	}
}
