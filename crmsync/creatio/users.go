package creatio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
)

// pageSize is how many rows one OData page asks for.
const pageSize = 1000

// SyncUsers implements crmsync.UserSyncer: it reads Creatio's users
// (SysAdminUnit rows of type 4, with their contact's e-mail; a user owns
// activities through that contact, so the contact's id is the owner id),
// keeps them for later pushes and reports who maps to nobody.
func (k *Creatio) SyncUsers(ctx context.Context, pbx []bridge.User) (crmsync.UserReport, error) {
	var users []usermap.User
	for skip := 0; ; skip += pageSize {
		if skip > 10_000_000 {
			return crmsync.UserReport{}, crmerr.Permanent(k.c.Errorf("users: too many pages, giving up"))
		}
		q := url.Values{"$select": {"Id,Name,Active,ContactId"}, "$filter": {"SysAdminUnitTypeValue eq 4"},
			"$expand": {"Contact($select=Id,Email)"}, "$orderby": {"Id"}, "$top": {strconv.Itoa(pageSize)}, "$skip": {strconv.Itoa(skip)}}
		r, err := k.c.Do(ctx, "users", http.MethodGet, k.odata+"SysAdminUnit?"+odataQuery(q), nil, nil)
		if err != nil {
			return crmsync.UserReport{}, err
		}
		if !r.OK() {
			return crmsync.UserReport{}, k.c.Fail("users", r)
		}
		var pg struct {
			Value []struct {
				Name      string `json:"Name"`
				Active    bool   `json:"Active"`
				ContactID string `json:"ContactId"`
				Contact   *struct {
					Email string `json:"Email"`
				} `json:"Contact"`
			} `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return crmsync.UserReport{}, k.c.Unexpected("users", err)
		}
		for _, u := range pg.Value {
			email := ""
			if u.Contact != nil {
				email = u.Contact.Email
			}
			if u.ContactID != "" {
				users = append(users, usermap.User{ID: strings.ToLower(u.ContactID), Email: email, Name: u.Name, Active: u.Active})
			}
		}
		if len(pg.Value) < pageSize {
			break
		}
	}
	d := usermap.New(users)
	k.users.Store(d)
	rep := d.Report(pbx)
	for _, u := range rep.Unmapped {
		k.log.Warn().Str("connector", k.name).Str("user", u.Extension).Str("reason", u.Reason).Msg("creatio user not mapped, activities go to the default owner")
	}
	k.log.Info().Str("connector", k.name).Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", rep.CRMUsers).Msg("creatio users synced")
	return rep, nil
}

// odataQuery encodes q with %20 for spaces: OData reads '+' literally in
// some places.
func odataQuery(q url.Values) string { return strings.ReplaceAll(q.Encode(), "+", "%20") }
