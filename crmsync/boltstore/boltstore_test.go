package boltstore_test

import (
	"testing"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/boltstore"
	"github.com/callbridge/callbridge/crmsync/storetest"
)

func TestConformance(t *testing.T) {
	dirs := map[crmsync.Store]string{}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) crmsync.Store {
			dir := t.TempDir()
			s, err := boltstore.Open(dir, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, old crmsync.Store) crmsync.Store {
			old.Close()
			s, err := boltstore.Open(dirs[old], boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}
