// Package usermap maps PBX users to a CRM's users by e-mail, the same way
// for every connector: the policy's explicit CRM user wins, then the
// user's e-mail compared case-insensitively with the CRM users' e-mails;
// inactive CRM users and e-mails shared by several active users map to
// nobody.
package usermap

import (
	"fmt"
	"sort"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// User is one CRM user.
type User struct {
	ID     string
	Email  string
	Name   string
	Active bool
}

// Directory is a CRM's users, read by a connector's SyncUsers. The zero
// value and nil are empty directories. It is immutable: connectors swap a
// new one in.
type Directory struct {
	byEmail map[string][]User
	n       int
}

// New indexes users.
func New(users []User) *Directory {
	d := &Directory{byEmail: map[string][]User{}, n: len(users)}
	for _, u := range users {
		if e := key(u.Email); e != "" {
			d.byEmail[e] = append(d.byEmail[e], u)
		}
	}
	return d
}

func key(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Len is how many CRM users the directory holds.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return d.n
}

// ByEmail finds the one active CRM user with email, or says why not.
func (d *Directory) ByEmail(email string) (User, string) {
	if d == nil {
		return User{}, "CRM users not read yet"
	}
	all := d.byEmail[key(email)]
	var active []User
	for _, u := range all {
		if u.Active {
			active = append(active, u)
		}
	}
	switch {
	case len(all) == 0:
		return User{}, "no CRM user with e-mail " + email
	case len(active) == 0:
		return User{}, "CRM user with e-mail " + email + " is inactive"
	case len(active) > 1:
		return User{}, fmt.Sprintf("%d CRM users share e-mail %s: set crm_user", len(active), email)
	}
	return active[0], ""
}

// Owner says who owns a delivery's activity and how it was decided: the
// policy's mapping ("policy"), the user's e-mail among the CRM's users
// ("email"), the connector's default owner ("default_owner"), the policy's
// default assignee ("default_assignee"), or nobody ("": the CRM's own
// default, the API user).
func (d *Directory) Owner(as crmsync.Assignment, defaultOwner string) (id, how string) {
	switch {
	case as.Mapped && as.CRMUser != "":
		return as.CRMUser, "policy"
	case as.Email != "":
		if u, why := d.ByEmail(as.Email); why == "" {
			return u.ID, "email"
		}
	}
	switch {
	case defaultOwner != "":
		return defaultOwner, "default_owner"
	case as.CRMUser != "":
		return as.CRMUser, "default_assignee"
	}
	return "", ""
}

// Report maps each user by e-mail and says why those who map to nobody
// do not. An explicit CRM user (the policy's crm_user) is not the
// directory's to know: it travels in each push's Assignment and wins
// there (see Owner).
func (d *Directory) Report(users []bridge.User) crmsync.UserReport {
	rep := crmsync.UserReport{Mapped: map[string]string{}, CRMUsers: d.Len()}
	sorted := append([]bridge.User(nil), users...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Extension < sorted[j].Extension })
	for _, u := range sorted {
		if u.Email == "" {
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: u.Extension, Reason: "no e-mail"})
			continue
		}
		if _, why := d.ByEmail(u.Email); why != "" {
			rep.Unmapped = append(rep.Unmapped, crmsync.UnmappedUser{Extension: u.Extension, Reason: why})
			continue
		}
		rep.Mapped[u.Extension] = "email"
	}
	return rep
}
