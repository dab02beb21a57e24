// Package config is callbridge's one typed configuration: the YAML file an
// operator writes (see example.yaml and docs/config.md), its defaults, its
// strict decoding and its validation.
//
// Load reads one file, refuses unknown keys (naming them with their line),
// resolves secrets given as files (including systemd credentials from
// $CREDENTIALS_DIRECTORY) and validates. Validate reports every problem at
// once, each naming its key path. Check is Load plus what `callbridge run`
// needs before it starts (Preflight: files, directories, listen
// addresses, connectors' credentials and TLS files); `config check` and
// `run` both call it, so run refuses exactly what the check refuses, and
// one check shows all there is to fix. Secrets are of type Secret, which
// never prints or marshals its value.
package config
