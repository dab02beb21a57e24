package connectors

import (
	"strings"
	"testing"

	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// recognition.entities[].fields is refused for a type whose source reads
// none, as a setting that would do nothing, and accepted for one that
// reads them (every type today: Dynamics keeps them as the record's
// Fields, the others append them to the name).
func TestFieldsRefusedWhereNotRead(t *testing.T) {
	plain := Types["dynamics"]
	plain.readsFields = false
	Types["nofields"] = plain
	defer delete(Types, "nofields")
	ents := phoneindex.DefaultEntities()
	ents[0].Fields = []string{"emailaddress1"}
	for typ, want := range map[string]bool{"nofields": true, "dynamics": false} {
		c := ConnectorConfig{Name: "dyn", Type: typ, Settings: &dynamics.Config{},
			Recognition: &phoneindex.Settings{Enabled: true, Entities: ents}}
		err := c.Validate()
		refused := `recognition.entities[0].fields: type "` + typ + `" reads no further fields; remove it`
		if got := err != nil && strings.Contains(err.Error(), refused); got != want {
			t.Errorf("type %s: refused %v, want %v (%v)", typ, got, want, err)
		}
	}
}
