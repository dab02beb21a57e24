package phoneindex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore persists each integration as a file in Dir (name.cache, in the
// format of codec.go), replaced atomically (write, sync, rename) so a crash
// leaves the old or the new snapshot, never half of one. The gzipped JSON
// (name.json.gz) of earlier versions is read when there is no such file,
// and removed by the next save.
type FileStore struct {
	Dir string
}

func (f FileStore) path(name string) (string, error) {
	if !identifier(name) {
		return "", fmt.Errorf("integration name %q: want letters, digits and _", name)
	}
	return filepath.Join(f.Dir, name+".cache"), nil
}

func legacyPath(p string) string { return strings.TrimSuffix(p, ".cache") + ".json.gz" }

// Load implements Persister.
func (f FileStore) Load(_ context.Context, name string) (*Snapshot, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		file, err = os.Open(legacyPath(p))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(file, fi.Size())
}

// Save implements Persister.
func (f FileStore) Save(_ context.Context, name string, s *Snapshot) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.Dir, name+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if err := encodeSnapshot(tmp, s); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	if err := os.Remove(legacyPath(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Delete implements Persister.
func (f FileStore) Delete(_ context.Context, name string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	for _, q := range []string{p, legacyPath(p)} {
		if err := os.Remove(q); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
