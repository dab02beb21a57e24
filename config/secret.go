package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/callbridge/callbridge/internal/secret"
)

// Secret is a password or token that prints as "<secret>"; see
// internal/secret.
type Secret = secret.Secret

// readSecretFile reads the secret named by a *_file key (see
// secret.ReadFile).
func readSecretFile(key, name, configDir string, getenv func(string) string) (Secret, error) {
	return secret.ReadFile(key, name, configDir, getenv)
}

// readSecret reads a secret given by name as key_file (read as every
// *_file secret is) or key_credential (a systemd credential, only from
// $CREDENTIALS_DIRECTORY, LoadCredential=); neither set is no secret.
func readSecret(key, file, credential, dir string, getenv func(string) string) (Secret, error) {
	switch {
	case file != "" && credential != "":
		return "", fmt.Errorf("%s_file: set both %s_file and %s_credential; keep one", key, key, key)
	case file != "":
		return readSecretFile(key+"_file", file, dir, getenv)
	case credential != "":
		creds := getenv("CREDENTIALS_DIRECTORY")
		if strings.ContainsRune(credential, '/') {
			return "", fmt.Errorf("%s_credential: %q: a credential name, not a path", key, credential)
		}
		if creds == "" {
			return "", fmt.Errorf("%s_credential: $CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=); outside systemd use %s_file", key, key)
		}
		return readSecretFile(key+"_credential", filepath.Join(creds, credential), dir, getenv)
	}
	return "", nil
}
