package fakeari

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzApply feeds arbitrary messages to the REST state and the timestamp
// and id rewriting: whatever a recording holds, the fake must not panic,
// and the state it serves must stay valid JSON.
func FuzzApply(f *testing.F) {
	for _, name := range scenarios(f) {
		for i, l := range load(f, name).Lines {
			if i%7 == 0 {
				f.Add(l)
			}
		}
	}
	f.Add([]byte(`{"type":"ChannelEnteredBridge","bridge":{"id":"b","bridge_type":"x"},"channel":{"id":"c","name":"","state":""}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		st := newState([]string{"PJSIP/101"})
		st.apply([]byte(`{"type":"ChannelCreated","channel":{"id":"c","name":"PJSIP/101-1","state":"Up"}}`))
		st.apply([]byte(`{"type":"BridgeCreated","bridge":{"id":"b","bridge_type":"mixing"}}`))
		st.apply(line)
		st.apply(rewrite(line, time.Hour, "-t"))
		for _, v := range []any{st.channelList(), st.bridgeList(), st.endpointList()} {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("state no longer JSON: %v", err)
			}
		}
	})
}
