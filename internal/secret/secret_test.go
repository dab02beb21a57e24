package secret

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	os.WriteFile(file, []byte("  from-file\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cred"), []byte("from-credential\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "blank"), []byte(" \n"), 0o600)

	if s, err := Load("secret", "inline", "", ""); err != nil || s != "inline" {
		t.Errorf("value: %q %v", s, err)
	}
	if s, err := Load("secret", "", file, ""); err != nil || s != "from-file" {
		t.Errorf("file: %q %v", s, err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	if s, err := Load("secret", "", "", "cred"); err != nil || s != "from-credential" {
		t.Errorf("credential: %q %v", s, err)
	}
	if _, err := Load("client_secret", "", filepath.Join(dir, "blank"), ""); err == nil || !strings.HasPrefix(err.Error(), "client_secret: empty") {
		t.Errorf("blank: %v", err)
	}
	if _, err := Load("client_secret", "", filepath.Join(dir, "missing"), ""); err == nil || !strings.HasPrefix(err.Error(), "client_secret_file:") {
		t.Errorf("missing file: %v", err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := Load("secret", "", "", "cred"); err == nil || !strings.Contains(err.Error(), "CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("no credentials directory: %v", err)
	}
}

func TestPrinting(t *testing.T) {
	s := Secret("hunter2")
	out := fmt.Sprintf("%v %s %q %x %#v %+v", s, s, s, s, s, struct{ P Secret }{s})
	if strings.Contains(out, "hunter2") || !strings.Contains(out, Redacted) {
		t.Fatal(out)
	}
	if s.Value() != "hunter2" || Secret("").String() != "" {
		t.Fatal("Value or empty mask wrong")
	}
}
