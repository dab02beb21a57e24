package config

import "github.com/callbridge/callbridge/internal/secret"

// Secret is a password or token that prints as "<secret>"; see
// internal/secret.
type Secret = secret.Secret

// readSecretFile reads the secret named by a *_file key (see
// secret.ReadFile).
func readSecretFile(key, name, configDir string, getenv func(string) string) (Secret, error) {
	return secret.ReadFile(key, name, configDir, getenv)
}
