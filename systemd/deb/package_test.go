package deb

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callbridge/callbridge/internal/manpage"
)

// The systemd-analyze security exposure of the shipped unit was 1.5 when
// this test was written; no change may make it worse.
const maxExposure = 1.5

const conffile = "etc/callbridge/callbridge.yaml"

// TestPackage builds the .deb, installs it into a scratch root and checks
// what an operator relies on, in the order they meet it: files, user,
// enabled but not started, the man page, the shipped config checked and
// started as the service's user, the unit as systemd-analyze sees it, an
// upgrade with and without local edits, a purge, and the whole story
// once more on a booted Debian.
func TestPackage(t *testing.T) {
	requirements(t)
	repo := repoRoot(t)
	dir := t.TempDir()
	deb := buildDeb(t, repo, dir)
	version := strings.TrimSpace(run(t, nil, "dpkg-deb", "--field", deb, "Version"))
	root := scratchRoot(t, dir)

	out := dpkg(t, root, "--install", deb)
	if !strings.Contains(out, "installed and enabled, not started") {
		t.Errorf("the first install does not tell the operator what to do next:\n%s", out)
	}
	user := lookup(t, root, "callbridge", false)
	group := lookup(t, root, "callbridge", true)
	svc := service{root: root, uid: user.id, gid: group.id}

	t.Run("Installed", func(t *testing.T) {
		status := run(t, dpkgEnv(), "dpkg-query", "--root="+root, "--show", "--showformat=${Status} ${Version}", "callbridge")
		if want := "install ok installed " + version; status != want {
			t.Errorf("dpkg-query: %q, want %q", status, want)
		}
		b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/callbridge.conffiles"))
		if err != nil || strings.TrimSpace(string(b)) != "/"+conffile {
			t.Errorf("conffiles %q (%v), want /%s alone", b, err, conffile)
		}
		got := run(t, nil, filepath.Join(root, "usr/bin/callbridge"), "version")
		if !strings.Contains(got, version) {
			t.Errorf("callbridge version = %q, want the package's %s", got, version)
		}
	})

	t.Run("User", func(t *testing.T) {
		if user.id == 0 || user.id >= 1000 || user.gid != group.id {
			t.Errorf("user callbridge uid %d gid %d, group %d: want a system user (1-999) in its own group", user.id, user.gid, group.id)
		}
		if user.home != "/var/lib/callbridge" || !strings.HasSuffix(user.shell, "/nologin") {
			t.Errorf("user callbridge home %q shell %q", user.home, user.shell)
		}
		if group.members != "" {
			t.Errorf("group callbridge has members %q, want none", group.members)
		}
	})

	t.Run("Files", func(t *testing.T) {
		files := []struct {
			path string
			mode fs.FileMode
			gid  int
			same string // the repository file it is a copy of
		}{
			{"usr/bin/callbridge", 0o755, 0, ""},
			{"usr/lib/systemd/system/callbridge.service", 0o644, 0, "systemd/callbridge.service"},
			{"usr/lib/sysusers.d/callbridge.conf", 0o644, 0, "systemd/deb/sysusers.conf"},
			{"etc/callbridge", fs.ModeDir | 0o750, group.id, ""},
			{conffile, 0o640, group.id, "systemd/deb/callbridge.yaml"},
			{"usr/share/man/man8/callbridge.8.gz", 0o644, 0, ""},
			{"usr/share/doc/callbridge/example.yaml", 0o644, 0, "config/example.yaml"},
			{"usr/share/doc/callbridge/README.md", 0o644, 0, "README.md"},
			{"usr/share/doc/callbridge/docs/operations.md", 0o644, 0, "docs/operations.md"},
			{"usr/share/doc/callbridge/docs/config.md", 0o644, 0, "docs/config.md"},
		}
		dropins, _ := filepath.Glob(filepath.Join(repo, "systemd/deb/credentials/*.conf"))
		if len(dropins) == 0 {
			t.Fatal("no credential drop-ins in the repository")
		}
		for _, d := range dropins {
			files = append(files, struct {
				path string
				mode fs.FileMode
				gid  int
				same string
			}{"usr/share/doc/callbridge/credentials/" + filepath.Base(d), 0o644, 0, "systemd/deb/credentials/" + filepath.Base(d)})
		}
		for _, f := range files {
			mode, uid, gid := owner(t, filepath.Join(root, f.path))
			if mode != f.mode || uid != 0 || gid != f.gid {
				t.Errorf("/%s: %v %d:%d, want %v 0:%d", f.path, mode, uid, gid, f.mode, f.gid)
			}
			if f.same != "" {
				a, _ := os.ReadFile(filepath.Join(root, f.path))
				b, _ := os.ReadFile(filepath.Join(repo, f.same))
				if !bytes.Equal(a, b) {
					t.Errorf("/%s is not %s", f.path, f.same)
				}
			}
		}
		// The user owns nothing of the package, so that a compromised
		// service cannot change its own program, unit or config.
		list := run(t, dpkgEnv(), "dpkg-query", "--root="+root, "--listfiles", "callbridge")
		for _, p := range strings.Fields(list) {
			if _, uid, gid := owner(t, filepath.Join(root, p)); uid == user.id || (gid == group.id && !strings.HasPrefix(p, "/etc/callbridge")) {
				t.Errorf("%s is owned by %d:%d, the service's user or group", p, uid, gid)
			}
		}
	})

	t.Run("EnabledNotStarted", func(t *testing.T) {
		link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/callbridge.service")
		target, err := os.Readlink(link)
		if err != nil || filepath.Base(target) != "callbridge.service" {
			t.Errorf("not enabled: %s -> %q (%v)", link, target, err)
		}
		// No running systemd here to see whether it was started: the
		// scripts must not ask for it. postinst's only actions on the
		// unit are a daemon-reload and, on upgrade, a try-restart.
		actions := 0
		for _, script := range []string{"postinst", "prerm", "postrm"} {
			b, err := os.ReadFile(filepath.Join(repo, "systemd/deb", script))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(`(?m)^\s*(?:if\s+!?\s*)?(systemctl|deb-systemd-invoke)\s+(--\S+\s+)*(\S+)`).FindAllStringSubmatch(string(b), -1) {
				actions++
				allowed := map[string]bool{"daemon-reload": true, "try-restart": true, "stop": script == "prerm"}
				if !allowed[m[3]] {
					t.Errorf("%s runs %q", script, m[0])
				}
			}
		}
		if actions != 4 { // postinst: daemon-reload, try-restart; prerm: stop; postrm: daemon-reload
			t.Errorf("found %d systemctl actions in the scripts, want 4: is the pattern still right?", actions)
		}
	})

	t.Run("ManPage", func(t *testing.T) {
		f, err := os.Open(filepath.Join(root, "usr/share/man/man8/callbridge.8.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		lint := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
		lint.Stdin = bytes.NewReader(page)
		if out, err := lint.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww: %v\n%s", err, out)
		}
		text := string(page)
		for _, sh := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "CONFIGURATION", "CREDENTIALS", "FILES", "STATE DIRECTORY", "SEE ALSO"} {
			if !strings.Contains(text, `.SH "`+sh+`"`) {
				t.Errorf("no section %s", sh)
			}
		}
		if !strings.Contains(text, `"callbridge `+version+`"`) {
			t.Errorf("the page does not carry the package's version %s", version)
		}
		// Every command the program lists, and every key the config
		// reference documents.
		_, cmds, err := manpage.ParseUsage(run(t, nil, filepath.Join(root, "usr/bin/callbridge"), "help"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			if !strings.Contains(text, `\fBcallbridge `+strings.ReplaceAll(c.Name, "-", `\-`)+`\fR`) {
				t.Errorf("command %q is not in the page", c.Name)
			}
		}
		ref, err := os.ReadFile(filepath.Join(repo, "docs/config.md"))
		if err != nil {
			t.Fatal(err)
		}
		keys := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(ref), -1)
		if len(keys) < 50 {
			t.Fatalf("only %d keys found in docs/config.md", len(keys))
		}
		for _, k := range keys {
			if !strings.Contains(text, `\fB`+strings.ReplaceAll(k[1], "-", `\-`)+`\fR`) {
				t.Errorf("config key %s is not in the page", k[1])
			}
		}
	})

	svc.makeStateDir(t)

	t.Run("ConfigCheck", func(t *testing.T) {
		shipped, err := os.ReadFile(filepath.Join(root, conffile))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := svc.check("/"+conffile, nil); err != nil || !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
			t.Errorf("the shipped config, as the service's user: %v\n%s", err, out)
		}
		// The one edit the config and docs/operations.md describe, for
		// each source that needs it.
		for _, src := range []string{"ari", "ami"} {
			edited := oneEdit(t, string(shipped), src)
			p := svc.writeConfig(t, src+".yaml", edited)
			if out, err := svc.check(p, nil); err != nil {
				t.Errorf("the shipped config with the %s edit: %v\n%s\n%s", src, err, out, edited)
			}
		}
		// The credential path: a relative password_file is read from
		// $CREDENTIALS_DIRECTORY, which systemd fills for the service.
		withFile := strings.Replace(oneEdit(t, string(shipped), "ari"), "password: the-ari.conf-password", "password_file: ari-password", 1)
		p := svc.writeConfig(t, "cred.yaml", withFile)
		credDir := "/run/credentials/callbridge.service"
		svc.writeFile(t, credDir+"/ari-password", "secret\n", 0o400, svc.uid, svc.gid)
		if out, err := svc.check(p, []string{"CREDENTIALS_DIRECTORY=" + credDir}); err != nil {
			t.Errorf("password_file from $CREDENTIALS_DIRECTORY: %v\n%s", err, out)
		}
		// Without the drop-in, the same name is read next to the config,
		// where a root-only file refuses the service: what the
		// troubleshooting section says.
		svc.writeFile(t, "/etc/callbridge/ari-password", "secret\n", 0o600, 0, 0)
		want := `ari.password_file: reading "/etc/callbridge/ari-password": permission denied`
		if out, err := svc.check(p, nil); err == nil || !strings.Contains(out, want) {
			t.Errorf("a root-only secret without its credential: %v\n%s\nwant %q", err, out, want)
		}
		// Only the group makes the config readable.
		other := service{root: root, uid: 65534, gid: 65534}
		want = "/" + conffile + ":\ncannot read it: permission denied"
		if out, err := other.check("/"+conffile, nil); err == nil || !strings.Contains(out, want) {
			t.Errorf("a user outside group callbridge: %v\n%s\nwant %q", err, out, want)
		}
		for _, f := range []string{"etc/callbridge/ari.yaml", "etc/callbridge/ami.yaml", "etc/callbridge/cred.yaml", "etc/callbridge/ari-password", "run/credentials"} {
			os.RemoveAll(filepath.Join(root, f))
		}
	})

	t.Run("Starts", func(t *testing.T) { svc.start(t) })

	t.Run("Verify", func(t *testing.T) {
		env := append(os.Environ(), "MANPATH="+filepath.Join(root, "usr/share/man"))
		verify := func(what string) {
			out := run(t, env, "systemd-analyze", "verify", "--root="+root, "callbridge.service")
			if strings.Contains(out, "callbridge") {
				t.Errorf("systemd-analyze verify, %s:\n%s", what, out)
			}
		}
		verify("the unit as shipped")
		dropins, _ := filepath.Glob(filepath.Join(root, "usr/share/doc/callbridge/credentials/*.conf"))
		d := filepath.Join(root, "etc/systemd/system/callbridge.service.d")
		for _, src := range dropins {
			dst := filepath.Join(d, filepath.Base(src))
			run(t, nil, "install", "-D", "-m", "0644", src, dst)
			verify("with " + filepath.Base(src))
			os.Remove(dst)
		}
		os.Remove(d)
	})

	t.Run("Security", func(t *testing.T) {
		out := run(t, nil, "systemd-analyze", "security", "--offline=yes", "--root="+root, "callbridge.service")
		m := regexp.MustCompile(`Overall exposure level for callbridge\.service: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level in:\n%s", out)
		}
		level, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("systemd-analyze security: exposure %.1f", level)
		if level > maxExposure {
			t.Errorf("exposure %.1f, more than %.1f:\n%s", level, maxExposure, out)
		}
	})

	t.Run("Upgrade", func(t *testing.T) {
		shipped, _ := os.ReadFile(filepath.Join(repo, "systemd/deb/callbridge.yaml"))
		conf := filepath.Join(root, conffile)
		checkConf := func(want string) {
			t.Helper()
			got, _ := os.ReadFile(conf)
			if string(got) != want {
				t.Errorf("callbridge.yaml after the upgrade:\n%s\nwant:\n%s", got, want)
			}
			if mode, uid, gid := owner(t, conf); mode != 0o640 || uid != 0 || gid != group.id {
				t.Errorf("callbridge.yaml after the upgrade: %v %d:%d, want 0640 root:callbridge", mode, uid, gid)
			}
		}

		// Unchanged since install: the new one replaces it, and the
		// service can still read it.
		v2, c2 := version+"+t2", string(shipped)+"# shipped by +t2\n"
		dpkg(t, root, "--install", repack(t, deb, dir, v2, c2))
		checkConf(c2)
		if exists(conf + ".dpkg-dist") {
			t.Error("a callbridge.yaml.dpkg-dist beside an unchanged config")
		}

		// Edited, and the unit disabled, by the operator: both are kept;
		// the new config waits beside it.
		local := strings.Replace(c2, "log_level: info", "log_level: debug", 1)
		if err := os.WriteFile(conf, []byte(local), 0); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/callbridge.service")
		if err := os.Remove(link); err != nil {
			t.Fatal(err)
		}
		v3, c3 := version+"+t3", string(shipped)+"# shipped by +t3\n"
		dpkg(t, root, "--force-confold", "--install", repack(t, deb, dir, v3, c3))
		checkConf(local)
		if got, err := os.ReadFile(conf + ".dpkg-dist"); err != nil || string(got) != c3 {
			t.Errorf("callbridge.yaml.dpkg-dist = %q (%v), want the new package's", got, err)
		}
		if exists(link) {
			t.Error("the upgrade enabled the unit the operator had disabled")
		}
		if u := lookup(t, root, "callbridge", false); u.id != user.id {
			t.Errorf("the upgrade changed the user's uid from %d to %d", user.id, u.id)
		}
		if out, err := svc.check("/"+conffile, nil); err != nil {
			t.Errorf("config check after the upgrade: %v\n%s", err, out)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		dpkg(t, root, "--purge", "callbridge")
		for _, p := range []string{"usr/bin/callbridge", conffile, conffile + ".dpkg-dist", "etc/callbridge",
			"usr/lib/systemd/system/callbridge.service", "usr/lib/sysusers.d/callbridge.conf",
			"var/lib/systemd/deb-systemd-helper-enabled/callbridge.service.dsh-also"} {
			if exists(filepath.Join(root, p)) {
				t.Errorf("/%s is left after the purge", p)
			}
		}
		// The state directory may hold what was not delivered yet: it
		// stays, and so does the user owning it.
		if _, uid, _ := owner(t, filepath.Join(root, "var/lib/callbridge/activities.jsonl")); uid != user.id {
			t.Errorf("the activity file is owned by %d after the purge, want %d", uid, user.id)
		}
		lookup(t, root, "callbridge", false)
	})

	t.Run("BootedInstall", func(t *testing.T) { bootedInstall(t, deb) })
}

// service runs the installed program as the service would: chrooted into
// the scratch root, as the callbridge user and group.
type service struct {
	root     string
	uid, gid int
}

func (s service) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("chroot", append([]string{fmt.Sprintf("--userspec=%d:%d", s.uid, s.gid),
		fmt.Sprintf("--groups=%d", s.gid), s.root, "/usr/bin/callbridge"}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin"}, env...)
	return cmd
}

// check runs `callbridge config check` on a config path inside the root.
func (s service) check(config string, env []string) (string, error) {
	out, err := s.command(env, "config", "check", "--config", config).CombinedOutput()
	return string(out), err
}

// makeStateDir does what StateDirectory=callbridge does at start.
func (s service) makeStateDir(t *testing.T) {
	t.Helper()
	d := filepath.Join(s.root, "var/lib/callbridge")
	if err := os.MkdirAll(d, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
}

// writeConfig writes a config beside the shipped one, with its owner and
// mode, and returns its path inside the root.
func (s service) writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	p := "/etc/callbridge/" + name
	s.writeFile(t, p, text, 0o640, 0, s.gid)
	return p
}

func (s service) writeFile(t *testing.T, p, text string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	full := filepath.Join(s.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(full, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// start runs `callbridge run` on the shipped config as the service,
// chrooted, on a loopback of its own (the config's fixed ports cannot
// meet anything else's), with a notify socket as systemd gives one: it
// must send READY=1, write its state as its own user and stop cleanly on
// SIGTERM.
func (s service) start(t *testing.T) {
	sock := filepath.Join(s.root, "run/notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	script := `ip link set lo up && exec chroot --userspec="$1" --groups="$2" "$3" /usr/bin/callbridge run --config /etc/callbridge/callbridge.yaml`
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", script, "sh",
		fmt.Sprintf("%d:%d", s.uid, s.gid), strconv.Itoa(s.gid), s.root)
	cmd.Env = []string{"PATH=" + path, "NOTIFY_SOCKET=/run/notify"}
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A daemon that exits before READY=1 ends the wait at once.
	var ready atomic.Bool
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if !ready.Load() {
			_ = conn.SetReadDeadline(time.Now())
		}
		exited <- err
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	err = await(conn, "READY=1", time.Minute)
	ready.Store(true)
	if err != nil {
		t.Fatalf("no READY=1: %v\n%s", err, logs.String())
	}
	for _, p := range []string{"var/lib/callbridge/journal/sip.jsonl", "var/lib/callbridge/activities.jsonl"} {
		if _, uid, gid := owner(t, filepath.Join(s.root, p)); uid != s.uid || gid != s.gid {
			t.Errorf("/%s owned by %d:%d, want the service's %d:%d", p, uid, gid, s.uid, s.gid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := await(conn, "STOPPING=1", 30*time.Second); err != nil {
		t.Errorf("no STOPPING=1: %v", err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("callbridge run exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("callbridge run did not stop within TimeoutStopSec after SIGTERM\n%s", logs.String())
	}
}

// await reads notifications until one carries want.
func await(conn *net.UnixConn, want string, within time.Duration) error {
	if err := conn.SetReadDeadline(time.Now().Add(within)); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	var seen []string
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return fmt.Errorf("%w (got %q)", err, seen)
		}
		msg := string(buf[:n])
		for _, l := range strings.Split(msg, "\n") {
			if l == want {
				return nil
			}
		}
		seen = append(seen, msg)
	}
}

// oneEdit makes the edit the shipped config's comment describes for a
// source: delete the sip: section, un-comment the source's.
func oneEdit(t *testing.T, shipped, source string) string {
	t.Helper()
	lines := strings.Split(shipped, "\n")
	var out []string
	found := false
	for i := 0; i < len(lines); i++ {
		switch l := lines[i]; {
		case l == "sip:":
			for i+1 < len(lines) && lines[i+1] != "" {
				i++
			}
		case l == "#"+source+":":
			found = true
			for ; i < len(lines) && lines[i] != ""; i++ {
				out = append(out, strings.TrimPrefix(lines[i], "#"))
			}
			out = append(out, "")
		default:
			out = append(out, l)
		}
	}
	if !found {
		t.Fatalf("the shipped config has no commented %s: section", source)
	}
	return strings.Join(out, "\n")
}

// repack makes a later version of the package with another shipped
// config, as the next release would be.
func repack(t *testing.T, deb, dir, version, config string) string {
	t.Helper()
	x := filepath.Join(dir, "repack-"+version)
	run(t, nil, "dpkg-deb", "--raw-extract", deb, x)
	control := filepath.Join(x, "DEBIAN/control")
	b, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^Version: .*$`).ReplaceAll(b, []byte("Version: "+version))
	if err := os.WriteFile(control, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(x, conffile), []byte(config), 0o640); err != nil {
		t.Fatal(err)
	}
	sums := filepath.Join(x, "DEBIAN/md5sums")
	b, err = os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Fields(run(t, nil, "md5sum", filepath.Join(x, conffile)))[0]
	b = regexp.MustCompile(`(?m)^[0-9a-f]+  `+regexp.QuoteMeta(conffile)+`$`).ReplaceAll(b, []byte(sum+"  "+conffile))
	if err := os.WriteFile(sums, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "callbridge_"+version+".deb")
	run(t, nil, "dpkg-deb", "-Zgzip", "--build", x, out)
	return out
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
