package layout

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/callbridge/callbridge"

// root is the module's directory.
const root = "../.."

// deps lists, for every package of the module (relative path, "" for
// none at the root), its transitive non-test dependencies: what `go list
// -deps` sees, so a test file importing anything is not a violation.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "list", "-f", `{{.ImportPath}}|{{join .Deps ","}}`, module+"/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		pkg, list, _ := strings.Cut(sc.Text(), "|")
		var ds []string
		for _, d := range strings.Split(list, ",") {
			if d != "" {
				ds = append(ds, d)
			}
		}
		m[rel(pkg)] = ds
	}
	if len(m) < 20 {
		t.Fatalf("go list found %d packages", len(m))
	}
	return m
}

// rel is an import path relative to the module, or the path itself for
// other modules and the standard library.
func rel(p string) string {
	if p == module {
		return "."
	}
	return strings.TrimPrefix(p, module+"/")
}

func ours(dep string) bool { return dep == module || strings.HasPrefix(dep, module+"/") }

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// nonConnectors are the parts of crmsync/ that are not a connector: the
// contract's helpers, the registry, caller recognition, the stores and
// the connectors' shared helpers (internal: REST plumbing, user mapping).
var nonConnectors = map[string]bool{"connectors": true, "crmerr": true, "crmtest": true, "internal": true, "phoneindex": true, "store": true}

// connectorHelper tells whether p is one of the connectors' shared helpers,
// held to the connectors' rules.
func connectorHelper(p string) bool { return under(p, "crmsync/internal") }

// connector tells whether p is (part of) a CRM connector: crmsync/<crm>/...
func connector(p string) bool {
	rest, ok := strings.CutPrefix(p, "crmsync/")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(rest, "/")
	return !nonConnectors[first]
}

func adapter(p string) bool { return under(p, "ari") || under(p, "sip") }

// The import rules of the house; see STYLE.md's "shape of the house".
var rules = []struct {
	name   string
	from   func(p string) bool // the packages the rule holds for
	forbid func(dep string) bool
}{
	{"bridge imports only the standard library",
		func(p string) bool { return p == "bridge" },
		func(d string) bool { first, _, _ := strings.Cut(d, "/"); return strings.Contains(first, ".") }},
	{"adapters (ari/..., sip/...) never import the CRM side, the API or the app",
		adapter,
		func(d string) bool {
			d = rel(d)
			return under(d, "crmsync") || under(d, "internal/api") || under(d, "internal/app")
		}},
	{"crmsync and its stores never import a connector or the registry",
		func(p string) bool { return p == "crmsync" || under(p, "crmsync/store") },
		func(d string) bool {
			d = rel(d)
			return ours(module+"/"+d) && (connector(d) || under(d, "crmsync/connectors"))
		}},
	{"a connector (or its shared helpers) never imports an adapter, the pipeline, the API or the app",
		func(p string) bool { return connector(p) || connectorHelper(p) },
		func(d string) bool {
			d = rel(d)
			return adapter(d) || under(d, "internal/pipeline") || under(d, "internal/api") || under(d, "internal/app") || d == "config"
		}},
	{"internal/api never imports an adapter, a connector or the registry",
		func(p string) bool { return under(p, "internal/api") },
		func(d string) bool { d = rel(d); return adapter(d) || connector(d) || under(d, "crmsync/connectors") }},
	{"the small helpers import nothing of callbridge but bridge",
		func(p string) bool {
			for _, h := range []string{"internal/phone", "internal/secret", "internal/promreg", "internal/reconnect", "internal/netallow"} {
				if under(p, h) {
					return true
				}
			}
			return false
		},
		func(d string) bool { return ours(d) && rel(d) != "bridge" }},
	{"only cmd and internal/app import internal/app",
		func(p string) bool { return !under(p, "cmd") && !under(p, "internal/app") },
		func(d string) bool { return under(rel(d), "internal/app") }},
}

func TestLayering(t *testing.T) {
	all := deps(t)
	pkgs := make([]string, 0, len(all))
	for p := range all {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, r := range rules {
		checked := 0
		for _, p := range pkgs {
			if !r.from(p) {
				continue
			}
			checked++
			for _, d := range all[p] {
				if r.forbid(d) {
					t.Errorf("%s: %s imports %s", r.name, p, rel(d))
				}
			}
		}
		if checked == 0 {
			t.Errorf("%s: no package to check (moved?)", r.name)
		}
	}
}

// maxLines is the most a non-test Go file may have.
const maxLines = 800

// tooLong lists the files allowed over maxLines for now (none: keep it
// that way). The test fails while the list holds a file that no longer
// needs it.
var tooLong = map[string]bool{}

func TestFileSize(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		p, _ := filepath.Rel(root, path)
		p = filepath.ToSlash(p)
		n := bytes.Count(b, []byte("\n"))
		if n > maxLines {
			seen[p] = true
			if !tooLong[p] {
				t.Errorf("%s has %d lines, more than %d: split it by concern", p, n, maxLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range tooLong {
		if !seen[p] {
			t.Errorf("%s is allowed over %d lines but is not (any more): take it off the list", p, maxLines)
		}
	}
}
