package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Check is what `callbridge config check` and `callbridge run` both ask of
// a config file before anything runs: Load (decode, secret files,
// Validate), what run needs beyond a well-formed file (a source), and
// Preflight (the files, directories and addresses the file names). Every
// stage runs, so one call reports every problem; the error is a
// *Problems. run refuses exactly what Check refuses, with its message.
// Check connects to nothing: whether the PBX, Redis or a CRM answer is
// for run to find out (it retries them).
func Check(path string, env Env) (*Config, error) {
	data, dir, err := readFile(path)
	if err != nil {
		return nil, problems(path, err)
	}
	c, err := load(data, dir, os.Getenv)
	if c == nil {
		return nil, problems(path, err)
	}
	errs := []error{err}
	if !c.ARI.On() && !c.AMI.On() && !c.SIP.On() {
		errs = append(errs, ErrNoSource)
	}
	errs = append(errs, c.Preflight(env))
	return c, problems(path, errs...)
}

// Env is what Preflight asks of the machine. SystemEnv is the real one;
// tests give their own, so that no name is looked up in a real DNS.
type Env struct {
	// LookupHost resolves a host name of a listen address.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// LocalAddrs are the machine's own addresses (a listener can bind
	// them, loopback and the unspecified address aside).
	LocalAddrs func() ([]netip.Addr, error)
}

// SystemEnv asks the system's resolver and network interfaces.
func SystemEnv() Env {
	return Env{
		LookupHost: net.DefaultResolver.LookupHost,
		LocalAddrs: func() ([]netip.Addr, error) {
			as, err := net.InterfaceAddrs()
			if err != nil {
				return nil, err
			}
			var out []netip.Addr
			for _, a := range as {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					out = append(out, p.Addr().Unmap())
				}
			}
			return out, nil
		},
	}
}

// Preflight checks what the config names outside itself, as run would meet
// it while starting: the state directory and the activity file can be
// created and written, the listen addresses resolve to addresses of this
// machine, and each connector's files and credentials can be read (TLS
// files parse as PEM). Values Validate refuses are not checked again.
func (c *Config) Preflight(env Env) error {
	if env.LookupHost == nil || env.LocalAddrs == nil {
		sys := SystemEnv()
		if env.LookupHost == nil {
			env.LookupHost = sys.LookupHost
		}
		if env.LocalAddrs == nil {
			env.LocalAddrs = sys.LocalAddrs
		}
	}
	v := &validator{}
	stateOK := true
	if c.StateDir != "" {
		if err := writableDir(c.StateDir); err != nil {
			stateOK = false
			v.add("state_dir", "%q: %v", c.StateDir, err)
		} else {
			// What run creates under it must not be in the way.
			for _, sub := range c.stateSubdirs() {
				if fi, err := os.Stat(filepath.Join(c.StateDir, sub)); err == nil && !fi.IsDir() {
					v.add("state_dir", "%q: %s is in the way: run keeps a directory there", c.StateDir, filepath.Join(c.StateDir, sub))
				}
			}
		}
	}
	// A sink in a state_dir that cannot be used has that problem.
	if c.Sink.File != "" && (stateOK || !within(c.Sink.File, c.StateDir)) {
		if err := writableFile(c.Sink.File); err != nil {
			v.add("sink.file", "%q: %v", c.Sink.File, err)
		}
	}
	listen := func(key, addr string) {
		if hostPort(addr) != nil {
			return // Validate said so
		}
		if err := listenable(env, addr); err != nil {
			v.add(key, "%q: %v", addr, err)
		}
	}
	if c.HTTP.Listen != "" {
		listen("http.listen", c.HTTP.Listen)
	}
	if c.SIP.On() {
		for i, a := range c.SIP.HEPListenUDP {
			listen(fmt.Sprintf("sip.hep_listen_udp[%d]", i), a)
		}
		for i, a := range c.SIP.HEPListenTCP {
			listen(fmt.Sprintf("sip.hep_listen_tcp[%d]", i), a)
		}
	}
	if c.SIP.Subscribe.On() {
		listen("sip.subscribe.listen", c.SIP.Subscribe.Listen)
	}
	if h := c.HTTP; h.Listen != "" && h.TLS.CertFile != "" && h.TLS.KeyFile != "" {
		if _, err := h.TLS.Certificate(); err != nil {
			v.errs = append(v.errs, err)
		}
	}
	for i, cc := range c.CRM {
		v.nested(fmt.Sprintf("crm[%d].", i), cc.Check())
	}
	return errors.Join(v.errs...)
}

// Certificate reads and parses the listener's certificate and key, as run
// serves them: the errors name the file that is missing or not PEM.
func (t HTTPTLS) Certificate() (tls.Certificate, error) {
	read := func(key, name string) ([]byte, error) {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", key, name, pathless(err))
		}
		return b, nil
	}
	certPEM, cerr := read("http.tls.cert_file", t.CertFile)
	keyPEM, kerr := read("http.tls.key_file", t.KeyFile)
	if err := errors.Join(cerr, kerr); err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls names what is wrong, never what the key holds.
		return tls.Certificate{}, fmt.Errorf("http.tls.cert_file: with http.tls.key_file: %w", err)
	}
	return cert, nil
}

// stateSubdirs are the directories run keeps under state_dir.
func (c *Config) stateSubdirs() []string {
	dirs := []string{"journal"}
	if c.Store.Type == StoreEmbedded {
		dirs = append(dirs, "queue")
	}
	for _, cc := range c.CRM {
		if cc.Recognition != nil {
			dirs = append(dirs, "phoneindex")
			break
		}
	}
	return dirs
}

// writableDir says why dir cannot be used as a directory to write in: it
// exists and is something else, or cannot be written, or it does not
// exist and cannot be created.
func writableDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return errors.New("not a directory")
	case err == nil:
		if err := syscall.Access(dir, 0o2|0o1); err != nil { // W_OK|X_OK
			return fmt.Errorf("not writable: %w", err)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return pathErr(err)
	}
	return creatable(dir)
}

// writableFile says why path cannot be appended to: it is a directory, or
// cannot be written, or cannot be created.
func writableFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("is a directory; name a file in it (%s)", DefaultSinkName)
	case err == nil:
		if err := syscall.Access(path, 0o2); err != nil { // W_OK
			return fmt.Errorf("not writable: %w", err)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return pathErr(err)
	}
	return creatable(path)
}

// within reports whether path lies in dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// creatable says why path, which does not exist, cannot be created: its
// nearest existing ancestor is not a directory, or cannot be written.
func creatable(path string) error {
	parent := filepath.Dir(filepath.Clean(path))
	for {
		fi, err := os.Stat(parent)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot be created: %s is not a directory", parent)
		case err == nil:
			if err := syscall.Access(parent, 0o2|0o1); err != nil {
				return fmt.Errorf("cannot be created: %s is not writable (%w)", parent, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("cannot be created: %w", pathErr(err))
		}
		next := filepath.Dir(parent)
		if next == parent {
			return errors.New("cannot be created")
		}
		parent = next
	}
}

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// listenable says why a listener cannot bind addr (host:port, checked by
// Validate): its host does not resolve, or to no address of this
// machine. It binds nothing: a running daemon holds the port already.
func listenable(env Env, addr string) error {
	host, _, _ := net.SplitHostPort(addr)
	if host == "" {
		return nil // every interface
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		names, err := env.LookupHost(ctx, host)
		cancel()
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound {
				return fmt.Errorf("cannot resolve %s: no such host", host)
			}
			return fmt.Errorf("cannot resolve %s: %w", host, err)
		}
		for _, n := range names {
			if ip, err := netip.ParseAddr(n); err == nil {
				ips = append(ips, ip)
			}
		}
	}
	local, err := env.LocalAddrs()
	if err != nil {
		return nil // cannot tell: let the bind decide
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsUnspecified() {
			return nil
		}
		for _, l := range local {
			if l == ip.WithZone("") {
				return nil
			}
		}
	}
	if len(ips) == 1 && ips[0].String() == host {
		return fmt.Errorf("%s is not an address of this machine", host)
	}
	return fmt.Errorf("%s is not an address of this machine (it resolves to %v)", host, ips)
}
