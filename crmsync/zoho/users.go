package zoho

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
)

// SyncUsers implements crmsync.UserSyncer: it reads Zoho's users (type
// AllUsers, 200 a page; only status "active" may own calls), keeps them
// for later pushes and reports who maps to nobody.
func (z *Zoho) SyncUsers(ctx context.Context, pbx []bridge.User) (crmsync.UserReport, error) {
	var users []usermap.User
	for page := 1; ; page++ {
		if page > 10_000 {
			return crmsync.UserReport{}, crmerr.Permanent(z.c.Errorf("users: more than 10000 pages, giving up"))
		}
		r, err := z.c.Do(ctx, "users", http.MethodGet, z.api+"users?type=AllUsers&per_page=200&page="+strconv.Itoa(page), nil, nil)
		if err != nil {
			return crmsync.UserReport{}, err
		}
		if r.Status == http.StatusNoContent {
			break
		}
		if !r.OK() {
			return crmsync.UserReport{}, z.c.Fail("users", r)
		}
		var pg struct {
			Users []struct {
				ID       string `json:"id"`
				Email    string `json:"email"`
				FullName string `json:"full_name"`
				Status   string `json:"status"`
			} `json:"users"`
			Info struct {
				MoreRecords bool `json:"more_records"`
			} `json:"info"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return crmsync.UserReport{}, z.c.Unexpected("users", err)
		}
		for _, u := range pg.Users {
			users = append(users, usermap.User{ID: u.ID, Email: u.Email, Name: u.FullName, Active: u.Status == "active"})
		}
		if !pg.Info.MoreRecords {
			break
		}
	}
	d := usermap.New(users)
	z.users.Store(d)
	rep := d.Report(pbx)
	for _, u := range rep.Unmapped {
		z.log.Warn().Str("connector", z.name).Str("user", u.Extension).Str("reason", u.Reason).Msg("zoho user not mapped, activities go to the default owner")
	}
	z.log.Info().Str("connector", z.name).Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", rep.CRMUsers).Msg("zoho users synced")
	return rep, nil
}
