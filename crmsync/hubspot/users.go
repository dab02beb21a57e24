package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
)

// SyncUsers implements crmsync.UserSyncer: it reads HubSpot's owners (the
// Owners API, 500 a page; archived owners, users deactivated, are not
// listed and so map to nobody), keeps them for later pushes and reports
// who maps to nobody.
func (h *HubSpot) SyncUsers(ctx context.Context, pbx []bridge.User) (crmsync.UserReport, error) {
	var users []usermap.User
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			return crmsync.UserReport{}, crmerr.Permanent(h.c.Errorf("owners: more than 10000 pages, giving up"))
		}
		q := url.Values{"limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		r, err := h.c.Do(ctx, "users", http.MethodGet, h.cfg.URL+"/crm/v3/owners?"+q.Encode(), nil, nil)
		if err != nil {
			return crmsync.UserReport{}, err
		}
		if !r.OK() {
			return crmsync.UserReport{}, h.c.Fail("users", r)
		}
		var pg struct {
			Results []struct {
				ID        string `json:"id"`
				Email     string `json:"email"`
				FirstName string `json:"firstName"`
				LastName  string `json:"lastName"`
				Archived  bool   `json:"archived"`
			} `json:"results"`
			Paging struct {
				Next struct {
					After string `json:"after"`
				} `json:"next"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return crmsync.UserReport{}, h.c.Unexpected("users", err)
		}
		for _, o := range pg.Results {
			users = append(users, usermap.User{ID: o.ID, Email: o.Email, Name: o.FirstName + " " + o.LastName, Active: !o.Archived})
		}
		if after = pg.Paging.Next.After; after == "" {
			break
		}
	}
	d := usermap.New(users)
	h.users.Store(d)
	rep := d.Report(pbx)
	for _, u := range rep.Unmapped {
		h.log.Warn().Str("connector", h.name).Str("user", u.Extension).Str("reason", u.Reason).Msg("hubspot user not mapped, activities go to the default owner")
	}
	h.log.Info().Str("connector", h.name).Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", rep.CRMUsers).Msg("hubspot owners synced")
	return rep, nil
}
