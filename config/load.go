package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/crmsync/connectors"
)

// MaxFileSize bounds the config file: a real one is a few kilobytes, and a
// bound keeps a wrong path (a log, a device) from being read whole.
const MaxFileSize = 4 << 20

// Load reads the YAML file at path over Default(), resolves *_file secrets
// and validates the result. Unknown keys are errors naming the key and its
// line. Every stage runs even when an earlier one found problems (only a
// file that is not YAML at all stops it), so one run reports everything;
// the error is then a *Problems. Unless the file could not be read or
// parsed, the decoded config is returned with it, so that a caller can
// still report what it read. Check adds what `run` needs beyond that.
func Load(path string) (*Config, error) {
	data, dir, err := readFile(path)
	if err != nil {
		return nil, problems(path, err)
	}
	c, err := load(data, dir, os.Getenv)
	return c, problems(path, err)
}

// readFile reads the config file, bounded, and gives its directory (for
// relative *_file names).
func readFile(path string) (data []byte, dir string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read it: %w", pathless(err))
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("cannot read it: %w", pathless(err))
	}
	if len(data) > MaxFileSize {
		return nil, "", fmt.Errorf("larger than %d bytes: not a config file", MaxFileSize)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return data, filepath.Dir(abs), nil
}

// pathless drops the path from a *PathError: the message names the file
// already.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// load is Load without the file system for the config itself: data is the
// file, dir its directory (for relative *_file names), getenv the
// environment. The config is nil only when data is not YAML.
func load(data []byte, dir string, getenv func(string) string) (*Config, error) {
	c := defaults()
	var errs []error
	if err := decode(data, c); err != nil {
		if errors.Is(err, errNotYAML) {
			return nil, err
		}
		errs = append(errs, err)
	}
	errs = append(errs, c.resolveSecrets(dir, getenv))
	c.derive()
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// errNotYAML marks a file that does not parse, or is not one mapping:
// nothing more can be checked.
var errNotYAML = errors.New("not a config")

type notYAML struct{ error }

func (notYAML) Is(target error) bool { return target == errNotYAML }

// decode decodes one YAML document into c. It first walks the node tree
// against Config's type so that unknown keys are reported with their full
// path ("ari.usrname") rather than a Go type name, then decodes what it
// can: values of the wrong type are reported and the rest is kept. When
// the walk found nothing unknown, the decoder's KnownFields(true) has the
// final word.
func decode(data []byte, c *Config) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: all defaults
		}
		return notYAML{cleanYAMLError(err, nil)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return notYAML{cleanYAMLError(err, nil)}
		}
		return notYAML{fmt.Errorf("line %d: a second YAML document; the config is one document", extra.Line)}
	}
	if len(root.Content) == 0 {
		return nil
	}
	doc := root.Content[0]
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil // only comments
	}
	if doc.Kind != yaml.MappingNode {
		return notYAML{fmt.Errorf("line %d: the config must be a mapping of keys (log_level: …, ari: …)", doc.Line)}
	}
	if dups := duplicateKeys(doc, ""); len(dups) > 0 {
		// yaml stops decoding a mapping at a repeated key, so
		// nothing below it could be checked.
		return notYAML{errors.Join(dups...)}
	}
	paths := map[int]string{}
	var errs []error
	walk(doc, reflect.TypeFor[Config](), "", paths, &errs)
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(len(errs) == 0)
	if err := strict.Decode(c); err != nil {
		errs = append(errs, cleanYAMLError(err, paths))
	}
	return errors.Join(errs...)
}

// duplicateKeys reports every key given twice in one mapping, anywhere
// under n.
func duplicateKeys(n *yaml.Node, path string) []error {
	var errs []error
	switch n.Kind {
	case yaml.MappingNode:
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := first[k.Value]; dup {
				errs = append(errs, fmt.Errorf("line %d: %s: mapping key %q already defined at line %d", k.Line, join(path, k.Value), k.Value, line))
			} else {
				first[k.Value] = k.Line
			}
			errs = append(errs, duplicateKeys(n.Content[i+1], join(path, k.Value))...)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			errs = append(errs, duplicateKeys(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return errs
}

// walk reports keys of n that t has no field for, recursing into structs
// and slices of structs, and records which key path each line holds.
func walk(n *yaml.Node, t reflect.Type, path string, paths map[int]string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				walk(v, t, path, paths, errs)
				continue
			}
			p := join(path, k.Value)
			paths[k.Line] = p
			f, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Errorf("line %d: %s: unknown key%s", k.Line, p, suggest(k.Value, fields)))
				continue
			}
			walk(v, f.Type, p, paths, errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if _, seen := paths[e.Line]; !seen {
				paths[e.Line] = p
			}
			walk(e, t.Elem(), p, paths, errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.MappingNode:
		for _, e := range n.Content {
			walk(e, t.Elem(), path, paths, errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their fields. A crm:
// entry also has one section per connector type, named after it, that
// its own decoder fills (connectors.ConnectorConfig.UnmarshalYAML).
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	if t == reflect.TypeFor[connectors.ConnectorConfig]() {
		for name, st := range connectors.Sections() {
			m[name] = reflect.StructField{Name: name, Type: st}
		}
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

// suggest offers the nearest known key for a likely typo.
func suggest(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance, bounded by the short keys it sees.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// cleanYAMLError splits yaml's "unmarshal errors" into one error each and
// puts the key path of the line in front when it is known, so that
// "line 7: cannot unmarshal !!str `x` into int" reads
// "line 7: ami.port: cannot unmarshal !!str `x` into int". Go type names
// of this package are shortened to what an operator recognises.
func cleanYAMLError(err error, paths map[int]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		msg = strings.ReplaceAll(msg, "config.", "")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			if line, _ := strconv.Atoi(m[1]); paths[line] != "" {
				msg = fmt.Sprintf("line %d: %s: %s", line, paths[line], msg[len(m[0]):])
			}
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}
