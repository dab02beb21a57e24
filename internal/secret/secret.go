package secret

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a password or token. Every way of printing or encoding it —
// fmt verbs, JSON, YAML, text, slog, zerolog's Interface/Any/Stringer —
// gives "<secret>" (or "" when it is empty), so that a config dumped into a
// log or an error message never carries the value. Use Value to read it.
type Secret string

// Redacted is what a secret prints as.
const Redacted = "<secret>"

// Value is the secret itself, for the one place that sends it to a peer.
func (s Secret) Value() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.mask()) }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x, %d…)
// prints the mask, never the bytes of the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.mask())
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.mask())
	default:
		fmt.Fprint(f, s.mask())
	}
}

// MarshalJSON implements json.Marshaler (and so zerolog's Interface and
// Any, which encode through encoding/json).
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + s.mask() + `"`), nil
}

// MarshalText implements encoding.TextMarshaler for encoders that prefer it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// MarshalYAML implements yaml.Marshaler: a config written back out carries
// the mask, not the secret.
func (s Secret) MarshalYAML() (any, error) { return s.mask(), nil }

// LogValue implements slog.LogValuer, for libraries that log through slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// ReadFile reads the secret named by a *_file key. A relative name is
// looked up in $CREDENTIALS_DIRECTORY when that is set (systemd
// LoadCredential=), otherwise next to the config file. One trailing line
// end is dropped: editors and `echo` add it, and no peer expects it. The
// error names the key and the path, never the content.
func ReadFile(key, name, configDir string, getenv func(string) string) (Secret, error) {
	path := name
	if !filepath.IsAbs(name) {
		if creds := getenv("CREDENTIALS_DIRECTORY"); creds != "" {
			path = filepath.Join(creds, name)
		} else {
			path = filepath.Join(configDir, name)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: reading %q: %w", key, path, pathless(err))
	}
	v := strings.TrimSuffix(string(b), "\n")
	v = strings.TrimSuffix(v, "\r")
	if v == "" {
		return "", fmt.Errorf("%s: %q is empty", key, path)
	}
	return Secret(v), nil
}

// Load gives the secret a connector is configured with: exactly one of
// value, a file holding it, or the name of a systemd credential read from
// $CREDENTIALS_DIRECTORY (LoadCredential=). Surrounding white space is
// dropped. key names the setting in errors ("client_secret"); errors never
// carry the content.
func Load(key string, value Secret, file, credential string) (string, error) {
	var s string
	switch {
	case value != "":
		s = string(value)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: reading %q: %w", key, file, pathless(err))
		}
		s = string(b)
	default:
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", fmt.Errorf("%s_credential: $CREDENTIALS_DIRECTORY is not set: credentials come from systemd (LoadCredential=); elsewhere use %s_file", key, key)
		}
		b, err := os.ReadFile(filepath.Join(dir, credential))
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s_credential: %q is not among the service's credentials (%s): the unit needs LoadCredential=%s:FILE", key, credential, dir, credential)
		}
		if err != nil {
			return "", fmt.Errorf("%s_credential: reading %q: %w", key, filepath.Join(dir, credential), pathless(err))
		}
		s = string(b)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s: empty", key)
	}
	return s, nil
}

// pathless is err without the path a *PathError repeats.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
