// Package secret keeps passwords, tokens and signing keys out of logs and
// errors: a Secret prints as "<secret>" whatever prints it, and the loaders
// read one from the configuration, a file or a systemd credential without
// ever quoting its content.
package secret
