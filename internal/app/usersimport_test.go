package app

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/config"
)

// FuzzMergeUsers: merging into any file that is valid YAML either fails
// with an error or gives valid YAML with the added user last. (The command
// only merges into a file config.Load accepted.)
func FuzzMergeUsers(f *testing.F) {
	example, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(example), "", "users: []\n", "users:\n", "users: 5\n", "- a\n", "users: [{extension: \"7\"}]\n"} {
		f.Add(s)
	}
	cfg := config.Default()
	f.Fuzz(func(t *testing.T, original string) {
		var in map[string]any
		if yaml.Unmarshal([]byte(original), &in) != nil {
			return
		}
		out, err := mergeUsers(cfg, []byte(original), []importUser{{Extension: "4242"}})
		if err != nil {
			return
		}
		var v struct {
			Users []any `yaml:"users"`
		}
		if err := yaml.Unmarshal(out, &v); err != nil {
			t.Fatalf("merged output is not YAML: %v\n%s", err, out)
		}
		last, _ := v.Users[len(v.Users)-1].(map[string]any)
		if last["extension"] != "4242" {
			t.Fatalf("the added user is not last:\n%s", out)
		}
	})
}
