// Package deb is the Debian package's layout and its test. The files here
// are what `make deb` packs with nfpm (nfpm.yaml): the shipped config, the
// sysusers.d entry, the maintainer scripts and one credential drop-in per
// secret. The unit itself is ../callbridge.service.
//
// The test builds the package, installs it with dpkg into a scratch root
// (--force-script-chrootless, so the maintainer scripts run with
// $DPKG_ROOT), checks files, modes, owners and the user, checks and starts
// the shipped config as the service's user in that root, runs
// systemd-analyze on the installed unit, and upgrades and purges the
// package. Then it follows the README's install story on a minimal Debian
// (debootstrap) booted with systemd-nspawn: apt install, the one edit,
// systemctl start and reload, an upgrade that restarts the service. It
// needs root and a few Debian tools; .ci/test installs them.
package deb
