//go:build !linux

package systemd

// monotonicUsec is only meaningful where systemd runs.
func monotonicUsec() (uint64, bool) { return 0, false }
