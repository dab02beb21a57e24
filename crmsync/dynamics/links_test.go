package dynamics_test

import (
	"net/url"
	"testing"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
)

// Record links open the model-driven app's record page; a new record's
// form carries the number in extraqs, escaped twice as Dataverse reads it.
func TestRecordLinks(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	base := cfg.URL
	if got, want := d.RecordURL("contact", "00000000-0000-4000-8000-000000000001"), base+"/main.aspx?pagetype=entityrecord&etn=contact&id=00000000-0000-4000-8000-000000000001"; got != want {
		t.Errorf("record URL %s, want %s", got, want)
	}
	u, err := url.Parse(d.NewRecordURL("contact", "telephone1", "+358401234567"))
	if err != nil {
		t.Fatal(err)
	}
	extra, _ := url.ParseQuery(u.Query().Get("extraqs"))
	if u.Query().Get("etn") != "contact" || extra.Get("telephone1") != "+358401234567" {
		t.Errorf("new record URL %s", u)
	}
	if s := cfg.Scripts(); len(s) != 1 || s[0].Name != dynamics.OpenRecord || s[0].URL != base+"/main.aspx?pagetype=entityrecord&etn=$(Entity)&id=$(Id)" {
		t.Errorf("presets %+v", s)
	}
}
