package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/routing"
)

// millionContacts is a CRM of a million contacts with one mobile number
// each, owned round robin by fifty users.
type millionContacts struct{}

const benchNumbers = 1_000_000

func benchNumber(i int) string { return fmt.Sprintf("+35840%07d", i) }

func (millionContacts) Records(_ context.Context, e phoneindex.Entity, _ time.Time, fn func([]phoneindex.Record) error) error {
	page := make([]phoneindex.Record, 0, 5000)
	for i := range benchNumbers {
		page = append(page, phoneindex.Record{Entity: e.Name, ID: fmt.Sprint(i), Name: "C", Phones: []string{benchNumber(i)},
			Owner: fmt.Sprintf("owner-%d", i%50), Modified: time.Unix(1, 0)})
		if len(page) == cap(page) {
			if err := fn(page); err != nil {
				return err
			}
			page = page[:0]
		}
	}
	return fn(page)
}

// BenchmarkDialplanHandlers is the daemon's own work for one dialplan
// request, without the network: the API's mux, its role guard, the
// handler, and for /api/route the router over a million indexed numbers
// and the presence of the owner; /healthz for comparison. The load
// harness (internal/cmd/loadharness) measures the same over HTTP.
func BenchmarkDialplanHandlers(b *testing.B) {
	ents := phoneindex.DefaultEntities()[:1]
	in, err := phoneindex.Open(context.Background(), "dyn", millionContacts{}, phoneindex.FileStore{Dir: b.TempDir()},
		phoneindex.Settings{Entities: ents, Region: "FI", Enabled: true}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		b.Fatal(err)
	}
	set := &phoneindex.Set{}
	set.Set("dyn", in)
	own := newOwners(nil)
	mapping := map[string]string{}
	direct := map[string]string{}
	for i := range 50 {
		mapping[fmt.Sprint(101+i)] = fmt.Sprintf("owner-%d", i)
		direct[fmt.Sprint(101+i)] = ""
	}
	own.refresh([]crmsync.Connector{mapper{m: mapping}})
	rt, err := routing.New(routing.Config{Rules: []routing.Rule{{Match: routing.MatchOwner, WhenFree: true},
		{Match: routing.MatchPrefix, Prefixes: []string{"+46"}, Target: "101"}}},
		routing.Deps{Records: indexes{set: set}, Owners: own, Presence: cards.New(cards.Options{}), DirectNumbers: direct})
	if err != nil {
		b.Fatal(err)
	}
	m := api.New(api.Deps{Auth: api.NewTokens(api.TokenSet{}, api.TokenOptions{Loopback: true}), Router: router{rt}, Lookup: indexes{set: set}, Logger: zerolog.Nop()})
	// The same with a dialplan token configured, as off loopback: every
	// dialplan request then carries it.
	const token = "bench-dialplan-token-0123456789"
	withToken := api.New(api.Deps{Auth: api.NewTokens(api.TokenSet{Dialplan: []api.NamedToken{{Name: "pbx", Token: token}}}, api.TokenOptions{}),
		Router: router{rt}, Lookup: indexes{set: set}, Logger: zerolog.Nop()})
	for _, tt := range []struct {
		name   string
		url    func(i int) string
		want   int
		bearer bool
	}{
		{"healthz", func(int) string { return "/healthz" }, 200, false},
		{"route", func(i int) string {
			return "/api/route?anum=" + url.QueryEscape(benchNumber(i*7919%benchNumbers)) + "&bnum=%2B35850111222"
		}, 200, false},
		{"route_national", func(i int) string {
			return "/api/route?anum=" + url.QueryEscape("040"+benchNumber(i * 7919 % benchNumbers)[6:]) + "&bnum=%2B35850111222"
		}, 200, false},
		{"lookup", func(i int) string { return "/api/lookup?number=" + url.QueryEscape(benchNumber(i*7919%benchNumbers)) }, 200, false},
		{"lookup_national", func(i int) string {
			return "/api/lookup?number=" + url.QueryEscape("040"+benchNumber(i * 7919 % benchNumbers)[6:])
		}, 200, false},
		{"callername", func(i int) string {
			return "/api/callername?number=" + url.QueryEscape(benchNumber(i*7919%benchNumbers))
		}, 200, false},
		{"callername_national", func(i int) string {
			return "/api/callername?number=" + url.QueryEscape("040"+benchNumber(i * 7919 % benchNumbers)[6:])
		}, 200, false},
		{"lookup_token", func(i int) string { return "/api/lookup?number=" + url.QueryEscape(benchNumber(i*7919%benchNumbers)) }, 200, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				w, r, h := httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tt.url(i), nil), m
				if tt.bearer {
					r.Header.Set("Authorization", "Bearer "+token)
					h = withToken
				}
				h.ServeHTTP(w, r)
				if w.Code != tt.want {
					b.Fatalf("%s: %d %s", tt.url(i), w.Code, w.Body)
				}
				i++
			}
		})
	}
}
