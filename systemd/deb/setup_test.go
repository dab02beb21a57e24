package deb

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tools are the commands the test and the maintainer scripts run, with
// the Debian package that has each.
var tools = []struct{ cmd, pkg string }{
	{"make", "make"},
	{"dpkg", "dpkg"},
	{"dpkg-deb", "dpkg"},
	{"dpkg-statoverride", "dpkg"},
	{"deb-systemd-helper", "init-system-helpers"},
	{"systemd-sysusers", "systemd"},
	{"systemd-analyze", "systemd"},
	{"man", "man-db"},
	{"groff", "groff-base"},
	{"awk", "mawk"},
	{"gzip", "gzip"},
	{"chroot", "coreutils"},
	{"unshare", "util-linux"},
	{"ip", "iproute2"},
	{"nsenter", "util-linux"},
	{"debootstrap", "debootstrap"},
	{"systemd-nspawn", "systemd-container"},
}

// path is what dpkg and the maintainer scripts run with: dpkg wants the
// sbin directories, which a test's environment may lack.
const path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// requirements stops the test unless it can run in full. Without root it
// is skipped, saying why, except in CI (CI set), where it fails; a missing
// tool always fails it, naming the packages to install.
func requirements(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "the package test needs root (dpkg into a scratch root, chown, chroot to the service's user); .ci/test runs it as root"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if runtime.GOOS != "linux" {
		t.Fatalf("the package test runs on Linux (Debian), not %s", runtime.GOOS)
	}
	t.Setenv("PATH", path+":"+os.Getenv("PATH"))
	var missing []string
	for _, tl := range tools {
		if _, err := exec.LookPath(tl.cmd); err != nil && !slices.Contains(missing, tl.pkg) {
			missing = append(missing, tl.pkg)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the package test needs %s: apt-get install -y %s (.ci/test does, as root)",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
}

// run runs a command and returns its combined output, failing the test
// with that output when it does not exit 0.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// repoRoot is the checkout the test builds from.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Makefile")); err != nil {
		t.Fatalf("no Makefile at the repository root: %v", err)
	}
	return dir
}

// goCommand is the go the test was built with, for make to use.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildDeb runs `make deb` into dir and returns the package's path.
func buildDeb(t *testing.T, repo, dir string) string {
	t.Helper()
	cmd := exec.Command("make", "-C", repo, "deb", "GO="+goCommand(),
		"BUILD="+filepath.Join(dir, "build"), "DEB_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, err := filepath.Glob(filepath.Join(dir, "callbridge_*.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("make deb made %q (%v), want one callbridge_*.deb", debs, err)
	}
	return debs[0]
}

// scratchRoot makes the smallest root a Debian system with systemd looks
// like to dpkg and systemd-analyze: merged /usr, an empty dpkg database,
// this machine's systemd units (for the targets the unit orders itself
// after) and kill (its ExecReload).
func scratchRoot(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib/systemd", "etc", "run",
		"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "sbin", "lib"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	units := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(units, "multi-user.target")); err != nil {
		units = "/lib/systemd/system"
	}
	run(t, nil, "cp", "-a", units, filepath.Join(root, "usr/lib/systemd/"))
	kill, err := exec.LookPath("kill")
	if err != nil {
		t.Fatal(err)
	}
	run(t, nil, "cp", kill, filepath.Join(root, "usr/bin/kill"))
	// The root is the service's "/": it must be searchable by it.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// dpkg runs dpkg on the scratch root, with the maintainer scripts outside
// a chroot and $DPKG_ROOT set for them. Dependencies are not there to be
// satisfied in an empty root.
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	// --path-include undoes the path-exclude of minimal (container)
	// images, which would leave out the man page and the drop-ins.
	return run(t, dpkgEnv(), "dpkg", append([]string{"--root=" + root, "--force-script-chrootless",
		"--force-depends", "--path-include=/*"}, args...)...)
}

func dpkgEnv() []string {
	return []string{"PATH=" + path, "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
}

// account is one line of a passwd or group file.
type account struct {
	name    string
	id, gid int
	home    string
	shell   string
	members string
}

// lookup finds name in the root's passwd (group: false) or group file.
func lookup(t *testing.T, root, name string, group bool) account {
	t.Helper()
	file := "etc/passwd"
	if group {
		file = "etc/group"
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if f[0] != name {
			continue
		}
		a := account{name: name}
		a.id, _ = strconv.Atoi(f[2])
		switch {
		case group && len(f) == 4:
			a.members = f[3]
		case !group && len(f) == 7:
			a.gid, _ = strconv.Atoi(f[3])
			a.home, a.shell = f[5], f[6]
		default:
			t.Fatalf("%s: malformed line %q", file, sc.Text())
		}
		return a
	}
	t.Fatalf("no %s in %s", name, file)
	return account{}
}

// owner is a file's mode, uid and gid, not following a last symlink.
func owner(t *testing.T, p string) (fs.FileMode, int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: no owner in %T", p, fi.Sys())
	}
	return fi.Mode(), int(st.Uid), int(st.Gid)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
