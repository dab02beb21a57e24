package salesforce

import (
	"context"
	"encoding/json"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
)

// SyncUsers implements crmsync.UserSyncer: it reads Salesforce's standard
// users (Id, Email, Name, IsActive; all pages), keeps them for later
// pushes (an assignment's e-mail is looked up among them) and reports who
// maps to nobody by e-mail. On error the users read before stay in use.
func (s *Salesforce) SyncUsers(ctx context.Context, pbx []bridge.User) (crmsync.UserReport, error) {
	var users []usermap.User
	err := s.query(ctx, "users", "SELECT Id, Email, Name, IsActive FROM User WHERE UserType = 'Standard'", func(rows []json.RawMessage) error {
		for _, raw := range rows {
			var u struct {
				Id, Email, Name string
				IsActive        bool
			}
			if err := json.Unmarshal(raw, &u); err != nil {
				return s.c.Unexpected("users", err)
			}
			users = append(users, usermap.User{ID: u.Id, Email: u.Email, Name: u.Name, Active: u.IsActive})
		}
		return nil
	})
	if err != nil {
		return crmsync.UserReport{}, err
	}
	d := usermap.New(users)
	s.users.Store(d)
	rep := d.Report(pbx)
	for _, u := range rep.Unmapped {
		s.log.Warn().Str("connector", s.name).Str("user", u.Extension).Str("reason", u.Reason).Msg("salesforce user not mapped, activities go to the default owner")
	}
	s.log.Info().Str("connector", s.name).Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", rep.CRMUsers).Msg("salesforce users synced")
	return rep, nil
}
