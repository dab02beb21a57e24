package deb

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mirror is where debootstrap fetches the container's Debian from.
const mirror = "http://deb.debian.org/debian"

// bootedInstall is the README's install story on a booted Debian: a
// minimal system of this machine's release, made with debootstrap and
// booted with systemd-nspawn on a network of its own, gets the package
// with apt, the one edit, and systemctl start; the service must run as
// its user, reload, and the upgrade path must restart it.
func bootedInstall(t *testing.T, deb string) {
	codename := osRelease(t)["VERSION_CODENAME"]
	if codename == "" {
		t.Fatal("no VERSION_CODENAME in /etc/os-release: debootstrap needs the release to install")
	}
	root := filepath.Join(t.TempDir(), "debian")
	// The downloaded packages are kept between runs: only a new machine
	// fetches them (some 60 MB).
	cache := "/var/cache/callbridge-test/debootstrap-" + codename
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, append(os.Environ(), "PATH="+path), "debootstrap", "--variant=minbase", "--cache-dir="+cache,
		"--include=systemd,systemd-sysv,dbus,procps", codename, root, mirror)
	t.Logf("debootstrap %s: %v", codename, time.Since(start).Round(time.Second))
	run(t, nil, "cp", deb, filepath.Join(root, "root"))

	c := boot(t, root)
	sh := func(script string) string { return c.sh(t, script) }

	out := sh("cd /root && apt-get install -y ./callbridge_*.deb 2>&1")
	if !strings.Contains(out, "installed and enabled, not started") {
		t.Errorf("apt install:\n%s", out)
	}
	if got := sh("systemctl is-enabled callbridge; systemctl is-active callbridge || true"); got != "enabled\ninactive\n" {
		t.Errorf("after install: %q, want enabled and inactive", got)
	}

	// The shipped config as it is listens for HEP, a source that is
	// connected once bound: the service starts, runs as its user and
	// reloads.
	sh("callbridge config check && systemctl start callbridge")
	pid := strings.TrimSpace(sh("systemctl is-active callbridge && systemctl show --property=MainPID --value callbridge"))
	pid = pid[strings.LastIndex(pid, "\n")+1:]
	uid := sh("awk '$1 == \"Uid:\" { print $2 }' /proc/" + pid + "/status")
	if want := sh("id -u callbridge"); uid != want {
		t.Errorf("the service runs as uid %q, want callbridge's %q", uid, want)
	}
	if status := sh("systemctl show --property=StatusText --value callbridge"); !strings.HasPrefix(status, "ready") {
		t.Errorf("status line %q, want ready", status)
	}
	sh("systemctl reload callbridge")
	waitFor(t, func() bool {
		return strings.Contains(c.shQuiet("journalctl -u callbridge --no-pager"), "reload: configuration applied")
	}, "the reload to be applied")

	// An upgrade restarts it (here: the same package again).
	sh("cd /root && dpkg -i callbridge_*.deb")
	if again := strings.TrimSpace(sh("systemctl is-active callbridge >/dev/null && systemctl show --property=MainPID --value callbridge")); again == pid || again == "0" {
		t.Errorf("MainPID %s after the upgrade, was %s: not restarted", again, pid)
	}

	// The one edit, for ARI, with no Asterisk answering: READY=1 waits
	// for the PBX, so the unit stays activating, its status line says
	// what it waits for and the source retries, as the unit's comments
	// say.
	conf := filepath.Join(root, conffile)
	shipped, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(oneEdit(t, string(shipped), "ari")), 0); err != nil {
		t.Fatal(err)
	}
	sh("callbridge config check && systemctl restart --no-block callbridge")
	waitFor(t, func() bool {
		return strings.Contains(c.shQuiet("journalctl -u callbridge --no-pager"), "ari source down, retrying")
	}, "the ARI source to say it is retrying")
	waitFor(t, func() bool {
		return strings.Contains(c.shQuiet("systemctl show --property=StatusText --value callbridge"), "waiting for")
	}, "the status line to say what it waits for")
	if state := strings.TrimSpace(c.shQuiet("systemctl is-active callbridge")); state != "activating" {
		t.Errorf("with the PBX down the unit is %q, want activating", state)
	}
	sh("systemctl stop callbridge")
}

// container is a booted systemd-nspawn container.
type container struct {
	leader int // the container's PID 1, as this machine numbers it
}

// boot starts the container and waits until its systemd has booted; the
// container is powered off at the end of the test.
func boot(t *testing.T, root string) container {
	t.Helper()
	cmd := exec.Command("systemd-nspawn", "--directory="+root, "--boot", "--register=no", "--keep-unit",
		"--private-network", "--console=passive", "--machine=callbridge-test-"+strconv.Itoa(os.Getpid()))
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var c container
	t.Cleanup(func() {
		if c.leader != 0 {
			c.shQuiet("systemctl poweroff")
		}
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	waitFor(t, func() bool {
		c.leader = findChild(cmd.Process.Pid, "systemd")
		return c.leader != 0
	}, "the container's systemd: "+logs.String())
	// Until its D-Bus is up, systemctl cannot even ask.
	var state string
	waitFor(t, func() bool {
		state = strings.TrimSpace(c.shQuiet("systemctl is-system-running --wait"))
		return state == "running" || state == "degraded"
	}, "the container to boot")
	return c
}

// sh runs a script as root inside the container and returns its output,
// failing the test when it fails.
func (c container) sh(t *testing.T, script string) string {
	t.Helper()
	return run(t, []string{"PATH=" + path, "LC_ALL=C"}, "nsenter", "--target="+strconv.Itoa(c.leader), "--all", "--", "/bin/sh", "-c", script)
}

// shQuiet is sh for polling: its failure is an answer, not an error.
func (c container) shQuiet(script string) string {
	cmd := exec.Command("nsenter", "--target="+strconv.Itoa(c.leader), "--all", "--", "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + path, "LC_ALL=C"}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// findChild finds a descendant process of pid with the given command name.
func findChild(pid int, comm string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(b)) {
		child, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(name)) == comm {
			return child
		}
		if found := findChild(child, comm); found != 0 {
			return found
		}
	}
	return 0
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// osRelease reads /etc/os-release.
func osRelease(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}
