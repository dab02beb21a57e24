package config

import (
	"fmt"
	"sort"
)

// validateCRMUserIDs checks the CRM user ids given outside a connector's
// own section against every connector that uses them as owners (a
// Dynamics systemuserid is a GUID): the directory's crm_user_id, the
// policy's default_assignee and per-user crm_user. A malformed one would
// fail every push of that user's calls, permanently.
func (c *Config) validateCRMUserIDs(v *validator) {
	type id struct{ key, value string }
	var ids []id
	for i, u := range c.Users {
		if u.CRMUserID != "" {
			ids = append(ids, id{fmt.Sprintf("users[%d].crm_user_id", i), u.CRMUserID})
		}
	}
	if c.Policy.DefaultAssignee != "" {
		ids = append(ids, id{"policy.default_assignee", c.Policy.DefaultAssignee})
	}
	exts := make([]string, 0, len(c.Policy.Users))
	for ext := range c.Policy.Users {
		exts = append(exts, ext)
	}
	sort.Strings(exts)
	for _, ext := range exts {
		if u := c.Policy.Users[ext].CRMUser; u != "" {
			ids = append(ids, id{fmt.Sprintf("policy.users[%q].crm_user", ext), u})
		}
	}
	for _, x := range ids {
		for i, cc := range c.CRM {
			if err := cc.CheckUserID(x.value); err != nil {
				v.add(x.key, "%q: %v, as crm[%d] (%s) needs", x.value, err, i, cc.InstanceName())
			}
		}
	}
}
