// Package systemd lets callbridge run as a systemd Type=notify service: it
// reports readiness, reloads and shutdown over $NOTIFY_SOCKET and keeps the
// service watchdog (WatchdogSec=) fed while the daemon is healthy. It is the
// sd_notify protocol in the standard library alone; outside systemd (no
// $NOTIFY_SOCKET) every call is a no-op.
//
// callbridge.service in this directory is the unit file the package is
// written for.
package systemd
