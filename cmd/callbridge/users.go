package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
)

// usersCmd runs `callbridge users import`.
func usersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sync" {
		return usersSyncCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, "usage: callbridge users import --config FILE [--out FILE] [--merge]\n       callbridge users sync --config FILE\n")
		return errUsage
	}
	fs := flags("users import", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file (ARI URL and credentials; with --merge, the file merged into)")
	out := fs.String("out", "", "write the result here (mode 0600) instead of to stdout")
	merge := fs.Bool("merge", false, "merge the PBX's users into the config file's users: and write the whole file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgFile)
	if err != nil {
		return fmt.Errorf("%s:\n%w", *cfgFile, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var found []endpoint
	switch {
	case cfg.ARI.On():
		found, err = ariEndpoints(ctx, cfg.ARI.URL, cfg.ARI.Username, cfg.ARI.Password.Value())
	case cfg.AMI.On():
		found, err = amiEndpoints(ctx, cfg)
	default:
		err = fmt.Errorf("%s: users import reads the PBX's endpoints over ARI or AMI: set ari.url or ami.host", *cfgFile)
	}
	if err != nil {
		return err
	}
	users := importable(cfg, found)

	var result []byte
	if *merge {
		original, err := os.ReadFile(*cfgFile)
		if err != nil {
			return fmt.Errorf("users import: %w", err)
		}
		if result, err = mergeUsers(cfg, original, users); err != nil {
			return fmt.Errorf("%s: %w", *cfgFile, err)
		}
	} else {
		if err := checkUsers(cfg, nil, users); err != nil {
			return err
		}
		if result, err = stub(users); err != nil {
			return err
		}
	}
	if *out == "" {
		_, err := stdout.Write(result)
		return err
	}
	if err := writeFile(*out, result); err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	fmt.Fprintf(stderr, "%s: %d users from the PBX written\n", *out, len(users))
	return nil
}

// endpoint is one PBX endpoint as GET /endpoints lists it, with the caller
// id name from its configuration when Asterisk gives it.
type endpoint struct {
	Technology string `json:"technology"`
	Resource   string `json:"resource"`
	Name       string `json:"-"`
}

// importUser is one entry of the users: stub. Email is written empty, to
// be filled in: it is what maps a user to a CRM user.
type importUser struct {
	Extension string `yaml:"extension"`
	Name      string `yaml:"name,omitempty"`
	Email     string `yaml:"email"`
}

// ariEndpoints lists the endpoints and, for PJSIP ones, reads each one's
// caller id from Asterisk's dynamic configuration
// (/asterisk/config/dynamic/res_pjsip/endpoint/<id>). That resource may be
// missing or refused (older Asterisk, a restricted ARI user): the name is
// then left empty, which is not an error.
// amiEndpoints lists PJSIP endpoints over AMI (PJSIPShowEndpoints); AMI
// gives no caller id there, so names are left to fill in.
func amiEndpoints(ctx context.Context, cfg *config.Config) ([]endpoint, error) {
	c, err := ami.New(ami.Config{Host: cfg.AMI.Host, Port: cfg.AMI.Port, Username: cfg.AMI.Username,
		Secret: cfg.AMI.Secret.Value(), MD5: true, TLS: cfg.AMI.TLS}, nil)
	if err != nil {
		return nil, err
	}
	names, err := c.Endpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("users import: %w", err)
	}
	eps := make([]endpoint, len(names))
	for i, n := range names {
		eps[i] = endpoint{Technology: "PJSIP", Resource: n}
	}
	return eps, nil
}

func ariEndpoints(ctx context.Context, base, user, pass string) ([]endpoint, error) {
	base = strings.TrimSuffix(base, "/")
	c := &http.Client{Timeout: 10 * time.Second}
	var eps []endpoint
	if code, err := ariGet(ctx, c, base, "/endpoints", user, pass, &eps); err != nil {
		return nil, err
	} else if code != http.StatusOK {
		return nil, fmt.Errorf("users import: ARI GET /endpoints: HTTP %d%s", code, authHint(code))
	}
	for i, e := range eps {
		if e.Technology != "PJSIP" || e.Resource == "" {
			continue
		}
		var tuples []struct {
			Attribute string `json:"attribute"`
			Value     string `json:"value"`
		}
		code, err := ariGet(ctx, c, base, "/asterisk/config/dynamic/res_pjsip/endpoint/"+url.PathEscape(e.Resource), user, pass, &tuples)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			continue
		}
		for _, t := range tuples {
			if t.Attribute == "callerid" {
				eps[i].Name = callerIDName(t.Value, e.Resource)
			}
		}
	}
	return eps, nil
}

func authHint(code int) string {
	if code == http.StatusUnauthorized {
		return " (check ari.username and ari.password)"
	}
	return ""
}

// ariGet GETs path under base and decodes a 200 answer into v. Errors
// never quote the URL, which may carry credentials.
func ariGet(ctx context.Context, c *http.Client, base, path, user, pass string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, errors.New("users import: ari.url is not a valid URL")
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("users import: ARI GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return 0, fmt.Errorf("users import: ARI GET %s: decode: %w", path, err)
	}
	return resp.StatusCode, nil
}

// callerIDName is the name part of a caller id (`"Alice A" <101>` gives
// Alice A). A bare number, or a name that is only the extension, gives "".
func callerIDName(cid, ext string) string {
	name := cid
	if i := strings.IndexByte(cid, '<'); i >= 0 {
		name = cid[:i]
	}
	name = strings.TrimSpace(name)
	if uq, err := strconv.Unquote(name); err == nil {
		name = strings.TrimSpace(uq)
	} else {
		name = strings.TrimSpace(strings.Trim(name, `"`))
	}
	if name == ext || strings.Trim(name, "+0123456789") == "" {
		return ""
	}
	return name
}

// importable keeps the endpoints that are users: the resource matches
// extension_pattern and is not a trunk. One resource under two
// technologies is one user. They are sorted by extension, numbers in
// numeric order.
func importable(cfg *config.Config, eps []endpoint) []importUser {
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

// writeFile replaces path with data atomically, readable by its owner
// only: a merged config holds the file's secrets.
func writeFile(path string, data []byte) error {
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

// usersSyncCmd asks the running daemon to match the directory's users to
// CRM users now, and shows who maps to whom and who is left unmapped.
func usersSyncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("users sync", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	base, err := apiBase(*cfgFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var res []api.UserSync
	if err := callAPI(ctx, http.MethodPost, base+"/api/users/sync", &res); err != nil {
		return err
	}
	if len(res) == 0 {
		fmt.Fprintln(stdout, "no configured CRM maps users (crm[].type dynamics does)")
		return nil
	}
	for _, r := range res {
		if r.Error != "" {
			fmt.Fprintf(stdout, "%s: user sync failed: %s\n", r.Connector, r.Error)
			continue
		}
		if len(r.Report.Mapped) == 0 && len(r.Report.Unmapped) == 0 {
			fmt.Fprintf(stdout, "%s: no users in the directory to map\n", r.Connector)
		}
		exts := make([]string, 0, len(r.Report.Mapped))
		for ext := range r.Report.Mapped {
			exts = append(exts, ext)
		}
		sort.Strings(exts)
		for _, ext := range exts {
			fmt.Fprintf(stdout, "%s: %s mapped by %s\n", r.Connector, ext, r.Report.Mapped[ext])
		}
		for _, u := range r.Report.Unmapped {
			fmt.Fprintf(stdout, "%s: %s UNMAPPED (%s): its calls go to the default owner\n", r.Connector, u.Extension, u.Reason)
		}
	}
	return nil
}
