package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/config"
)

// ImportUsers reads the PBX's endpoints (over ARI, else AMI) and gives the
// users: section they make, for `callbridge users import`: with merge, the
// whole file at cfgFile with the users not in it yet added to its users:
// list; else the users: section alone. n is how many users the PBX has.
func ImportUsers(ctx context.Context, cfg *config.Config, cfgFile string, merge bool) (result []byte, n int, err error) {
	var found []ari.Endpoint
	switch {
	case cfg.ARI.On():
		found, err = ari.Endpoints(ctx, cfg.ARI.URL, cfg.ARI.Username, cfg.ARI.Password.Value())
		if err != nil {
			err = fmt.Errorf("users import: %w", err)
		}
	case cfg.AMI.On():
		found, err = amiEndpoints(ctx, cfg)
	default:
		err = fmt.Errorf("%s: users import reads the PBX's endpoints over ARI or AMI: set ari.url or ami.host", cfgFile)
	}
	if err != nil {
		return nil, 0, err
	}
	users := importable(cfg, found)
	if merge {
		original, err := os.ReadFile(cfgFile)
		if err != nil {
			return nil, 0, fmt.Errorf("users import: %w", err)
		}
		if result, err = mergeUsers(cfg, original, users); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", cfgFile, err)
		}
		return result, len(users), nil
	}
	if err := checkUsers(cfg, nil, users); err != nil {
		return nil, 0, err
	}
	if result, err = stub(users); err != nil {
		return nil, 0, err
	}
	return result, len(users), nil
}

// importUser is one entry of the users: stub. Email is written empty, to
// be filled in: it is what maps a user to a CRM user.
type importUser struct {
	Extension string `yaml:"extension"`
	Name      string `yaml:"name,omitempty"`
	Email     string `yaml:"email"`
}

// amiEndpoints lists PJSIP endpoints over AMI (PJSIPShowEndpoints); AMI
// gives no caller id there, so names are left to fill in.
func amiEndpoints(ctx context.Context, cfg *config.Config) ([]ari.Endpoint, error) {
	c, err := ami.New(ami.Config{Host: cfg.AMI.Host, Port: cfg.AMI.Port, Username: cfg.AMI.Username,
		Secret: cfg.AMI.Secret.Value(), MD5: true, TLS: cfg.AMI.TLS}, nil)
	if err != nil {
		return nil, err
	}
	names, err := c.Endpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("users import: %w", err)
	}
	eps := make([]ari.Endpoint, len(names))
	for i, n := range names {
		eps[i] = ari.Endpoint{Technology: "PJSIP", Resource: n}
	}
	return eps, nil
}

// importable keeps the endpoints that are users: the resource matches
// extension_pattern and is not a trunk. One resource under two
// technologies is one user. They are sorted by extension, numbers in
// numeric order.
func importable(cfg *config.Config, eps []ari.Endpoint) []importUser {
	re, err := regexp.Compile(cfg.ExtensionPattern)
	if err != nil { // Load has validated it; be safe anyway
		re = regexp.MustCompile(config.DefaultExtensionPattern)
	}
	seen := map[string]int{}
	var out []importUser
	for _, e := range eps {
		if e.Resource == "" || !re.MatchString(e.Resource) || slices.Contains(cfg.Trunks, e.Resource) {
			continue
		}
		if i, ok := seen[e.Resource]; ok {
			if out[i].Name == "" {
				out[i].Name = e.Name
			}
			continue
		}
		seen[e.Resource] = len(out)
		out = append(out, importUser{Extension: e.Resource, Name: e.Name})
	}
	slices.SortFunc(out, func(a, b importUser) int { return compareExtensions(a.Extension, b.Extension) })
	return out
}

// compareExtensions orders numbers numerically (99 before 100) and the
// rest by text, after the numbers.
func compareExtensions(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb && len(a) != len(b):
		return len(a) - len(b)
	case na != nb:
		if na {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// stub is the users: section alone.
func stub(users []importUser) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Users found on the PBX by `callbridge users import`. Fill in each\n# e-mail: it maps the user to a CRM user.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Users []importUser `yaml:"users"`
	}{Users: users}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// checkUsers validates the user directory that existing plus added would
// make, with the rest of cfg, so that a duplicate names both entries
// (users[3].extension: "101" is also users[0].extension).
func checkUsers(cfg *config.Config, existing []config.User, added []importUser) error {
	c := *cfg
	c.Users = slices.Clone(existing)
	for _, u := range added {
		c.Users = append(c.Users, config.User{Extension: u.Extension, Name: u.Name, Email: u.Email})
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("users import: the result is not a valid configuration:\n%w", err)
	}
	return nil
}

// mergeUsers adds the users not yet in the file to its users: list and
// returns the whole file. Existing entries are kept as they are; a PBX
// endpoint that an existing user already claims (as extension or in
// endpoints) is not added again. The file is edited as a YAML tree, so
// its comments and the other sections stay as written (indentation may
// be normalised).
func mergeUsers(cfg *config.Config, original []byte, found []importUser) ([]byte, error) {
	claimed := map[string]bool{}
	for _, u := range cfg.Users {
		claimed[u.Extension] = true
		for _, e := range u.Endpoints {
			claimed[e] = true
		}
	}
	var added []importUser
	for _, u := range found {
		if !claimed[u.Extension] {
			added = append(added, u)
		}
	}
	if err := checkUsers(cfg, cfg.Users, added); err != nil {
		return nil, err
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(original, &doc); err != nil {
		return nil, fmt.Errorf("users import: %w", err)
	}
	if doc.Kind == 0 { // an empty file
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("users import: the file is not a YAML mapping")
	}
	root := doc.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "users" {
			list = root.Content[i+1]
			if list.Kind == yaml.ScalarNode && (list.Tag == "!!null" || list.Value == "") {
				*list = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			}
		}
	}
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "users"}, list)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, errors.New("users import: users: is not a list")
	}
	list.Style &^= yaml.FlowStyle // "users: []" grows into a block list
	for i, u := range added {
		var n yaml.Node
		if err := n.Encode(u); err != nil {
			return nil, err
		}
		if i == 0 {
			n.HeadComment = "Added by `callbridge users import`: fill in each e-mail."
		}
		list.Content = append(list.Content, &n)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteConfig replaces path with data atomically, readable by its owner
// only: a merged config holds the file's secrets.
func WriteConfig(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
