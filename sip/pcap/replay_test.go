package pcap_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

func sipActivities(t *testing.T, file string) ([]bridge.Activity, pcap.Stats) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st pcap.Stats
	acts, err := siptest.Activities(siptest.SIPConfig, func(fn func(bridge.Event)) error {
		var err error
		st, err = pcap.ReadPcap(f, fn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return acts, st
}

// TestReplayMatchesARI: every recording's sip.pcap and hep.pcap give the
// activities the ARI recording gives.
func TestReplayMatchesARI(t *testing.T) {
	for _, sc := range siptest.Scenarios {
		want := siptest.ARIActivities(t, sc)
		for _, file := range []string{"sip.pcap", "hep.pcap"} {
			t.Run(sc+"/"+file, func(t *testing.T) {
				got, st := sipActivities(t, filepath.Join(siptest.Recordings, sc, file))
				if st.Malformed != 0 || st.Dialog.Malformed != 0 {
					t.Errorf("malformed: %+v", st)
				}
				if st.Dialog.Flushed != 0 {
					t.Errorf("%d dialogs left open at the end", st.Dialog.Flushed)
				}
				for _, d := range siptest.SameActivities(want, got, 500*time.Millisecond) {
					t.Error(d)
				}
			})
		}
	}
}
