package pipedrive

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
)

// SyncUsers implements crmsync.UserSyncer: it reads the company's users
// (GET /v1/users; active_flag false: deactivated), keeps them for later
// pushes and reports who maps to nobody.
func (p *Pipedrive) SyncUsers(ctx context.Context, pbx []bridge.User) (crmsync.UserReport, error) {
	r, err := p.c.Do(ctx, "users", http.MethodGet, p.cfg.URL+"/api/v1/users", nil, nil)
	if err != nil {
		return crmsync.UserReport{}, err
	}
	if !r.OK() {
		return crmsync.UserReport{}, p.c.Fail("users", r)
	}
	var res struct {
		Data []struct {
			ID     int    `json:"id"`
			Name   string `json:"name"`
			Email  string `json:"email"`
			Active bool   `json:"active_flag"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &res); err != nil {
		return crmsync.UserReport{}, p.c.Unexpected("users", err)
	}
	users := make([]usermap.User, 0, len(res.Data))
	for _, u := range res.Data {
		users = append(users, usermap.User{ID: strconv.Itoa(u.ID), Email: u.Email, Name: u.Name, Active: u.Active})
	}
	d := usermap.New(users)
	p.users.Store(d)
	rep := d.Report(pbx)
	for _, u := range rep.Unmapped {
		p.log.Warn().Str("connector", p.name).Str("user", u.Extension).Str("reason", u.Reason).Msg("pipedrive user not mapped, activities go to the default owner")
	}
	p.log.Info().Str("connector", p.name).Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", rep.CRMUsers).Msg("pipedrive users synced")
	return rep, nil
}
