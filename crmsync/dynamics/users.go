package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// UserMapping maps PBX extensions to Dataverse systemuserids.
type UserMapping struct {
	Users map[string]string `json:"users"`
	// byEmail are the enabled CRM users by lower-case e-mail (those whose
	// e-mail is their own only), for an Assignment's Email.
	byEmail map[string]string
	// owners are the enabled systemuserids the last sync read; nil
	// before a sync, when every well-formed id is tried.
	owners map[string]bool
}

// usable says whether id may own a phonecall: a GUID the CRM has, enabled
// (as far as a sync has shown).
func (m *UserMapping) usable(id string) bool {
	return id != "" && isGUID(id) && (m.owners == nil || m.owners[strings.ToLower(id)])
}

// SystemUser is a Dataverse system user as user sync reads it.
type SystemUser struct {
	ID       string `json:"systemuserid"`
	Email    string `json:"internalemailaddress"`
	FullName string `json:"fullname"`
	Disabled bool   `json:"isdisabled"`
}

// explicitMapping is the mapping before any sync: configured crm_user ids.
func (d *Dynamics) explicitMapping() *UserMapping {
	m := &UserMapping{Users: map[string]string{}}
	for ext, u := range d.cfg.Users {
		if u.CRMUser != "" {
			m.Users[ext] = strings.ToLower(u.CRMUser)
		}
	}
	return m
}

// Mapping returns the mapping in use.
func (d *Dynamics) Mapping() UserMapping { return *d.users.Load() }

// SyncUsers reads Dataverse's system users and maps users to them: an
// explicit crm_user wins, then a configured e-mail, then the directory's
// e-mail, compared case-insensitively. Disabled CRM users are not mapped.
// The new mapping is used by later pushes (see Mapping); on error the old
// one stays. It implements crmsync.UserSyncer.
func (d *Dynamics) SyncUsers(ctx context.Context, users []bridge.User) (crmsync.UserReport, error) {
	crm, err := d.systemUsers(ctx)
	if err != nil {
		return crmsync.UserReport{}, err
	}
	byID := map[string]SystemUser{}
	byEmail := map[string][]SystemUser{}
	for _, u := range crm {
		byID[strings.ToLower(u.ID)] = u
		if u.Email != "" {
			k := strings.ToLower(strings.TrimSpace(u.Email))
			byEmail[k] = append(byEmail[k], u)
		}
	}
	m := UserMapping{Users: map[string]string{}, byEmail: map[string]string{}, owners: map[string]bool{}}
	for e, us := range byEmail {
		if len(us) == 1 && !us[0].Disabled {
			m.byEmail[e] = strings.ToLower(us[0].ID)
		}
	}
	for _, u := range crm {
		if !u.Disabled {
			m.owners[strings.ToLower(u.ID)] = true
		}
	}
	rep := crmsync.UserReport{Mapped: map[string]string{}, CRMUsers: len(crm)}
	// A default owner the CRM does not have would fail every push of an
	// unmapped user's call, permanently: say so now, and own those calls
	// otherwise (see owner) until it is fixed.
	if o := d.cfg.DefaultOwner; o != "" && !m.usable(o) {
		state := "no such system user"
		if _, ok := byID[strings.ToLower(o)]; ok {
			state = "that system user is disabled"
		}
		p := fmt.Sprintf("default_owner %s: %s; unmapped users' calls are owned by %s until it is fixed", o, state, d.fallbackOwner())
		rep.Problems = append(rep.Problems, p)
		d.log.Error().Str("default_owner", o).Msg("dynamics " + p)
	}
	exts := map[string]bridge.User{}
	for _, u := range users {
		exts[u.Extension] = u
	}
	for ext := range d.cfg.Users {
		if _, ok := exts[ext]; !ok {
			exts[ext] = bridge.User{Extension: ext}
		}
	}
	names := make([]string, 0, len(exts))
	for ext := range exts {
		names = append(names, ext)
	}
	sort.Strings(names)
	for _, ext := range names {
		u, uc := exts[ext], d.cfg.Users[ext]
		var how, email string
		switch {
		case uc.CRMUser != "":
			su, ok := byID[strings.ToLower(uc.CRMUser)]
			switch {
			case !ok:
				rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: "crm_user " + uc.CRMUser + " not found"})
			case su.Disabled:
				rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: "crm_user " + uc.CRMUser + " is disabled"})
			default:
				m.Users[ext], rep.Mapped[ext] = strings.ToLower(su.ID), "crm_user"
			}
			continue
		case uc.Email != "":
			how, email = "email", uc.Email
		case u.Email != "":
			how, email = "directory", u.Email
		default:
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: "no e-mail and no crm_user"})
			continue
		}
		var enabled []SystemUser
		for _, su := range byEmail[strings.ToLower(strings.TrimSpace(email))] {
			if !su.Disabled {
				enabled = append(enabled, su)
			}
		}
		switch {
		case len(byEmail[strings.ToLower(strings.TrimSpace(email))]) == 0:
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: "no CRM user with e-mail " + email})
		case len(enabled) == 0:
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: "CRM user with e-mail " + email + " is disabled"})
		case len(enabled) > 1:
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: ext, Reason: fmt.Sprintf("%d CRM users share e-mail %s: set crm_user", len(enabled), email)})
		default:
			m.Users[ext], rep.Mapped[ext] = strings.ToLower(enabled[0].ID), how
		}
	}
	d.users.Store(&m)
	for _, u := range rep.Unmapped {
		d.log.Warn().Str("user", u.Extension).Str("reason", u.Reason).Msg("dynamics user not mapped, activities go to the default owner")
	}
	d.log.Info().Int("mapped", len(rep.Mapped)).Int("unmapped", len(rep.Unmapped)).Int("crm_users", len(crm)).Msg("dynamics users synced")
	return rep, nil
}

// owner picks the systemuserid that owns a's phonecall, the first of these
// the CRM has (once a user sync has shown which it has): the policy's
// mapping of the user, this connector's own mapping, the CRM user with
// the assignment's e-mail, the default owner, the policy's default
// assignee. None: the application user owns it. An owner the CRM does
// not have would make Dataverse refuse the phonecall for good.
func (d *Dynamics) owner(user string, as crmsync.Assignment) (owner string, mapped bool) {
	m := d.users.Load()
	policyUser, assignee := as.CRMUser, ""
	if !as.Mapped {
		policyUser, assignee = "", as.CRMUser
	}
	for _, c := range []struct {
		id     string
		mapped bool
	}{
		{policyUser, true},
		{m.Users[user], true},
		{m.byEmail[strings.ToLower(strings.TrimSpace(as.Email))], true},
		{d.cfg.DefaultOwner, false},
		{assignee, false},
	} {
		if c.id == "" {
			continue
		}
		if m.usable(c.id) {
			return strings.ToLower(c.id), c.mapped
		}
		if _, warned := d.badOwners.LoadOrStore(strings.ToLower(c.id), true); !warned {
			d.log.Warn().Str("user", user).Str("owner", c.id).Msg("dynamics: the CRM has no enabled system user with this id; trying the next owner")
		}
	}
	return "", false
}

// fallbackOwner names who owns unmapped users' calls when the default
// owner cannot.
func (d *Dynamics) fallbackOwner() string {
	return "the policy's default_assignee if set, else the application user"
}

// systemUsers lists every system user, following @odata.nextLink.
func (d *Dynamics) systemUsers(ctx context.Context) ([]SystemUser, error) {
	q := url.Values{"$select": {"systemuserid,internalemailaddress,fullname,isdisabled"}}
	next := "systemusers?" + queryString(q)
	var out []SystemUser
	for pages := 0; next != ""; pages++ {
		if pages > 10_000 {
			return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: systemusers: more than 10000 pages, giving up", d.name))
		}
		r, err := d.do(ctx, "users", http.MethodGet, next, nil, http.Header{"Prefer": {"odata.maxpagesize=5000"}})
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			return nil, d.fail("users", r)
		}
		var page struct {
			Value []SystemUser `json:"value"`
			Next  string       `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: systemusers: undecodable page: %w", d.name, err), 0)
		}
		out = append(out, page.Value...)
		next = page.Next
	}
	return out, nil
}

// MappedUsers implements crmsync.UserMapper: the mapping in use, by
// extension.
func (d *Dynamics) MappedUsers() map[string]string { return maps.Clone(d.users.Load().Users) }
