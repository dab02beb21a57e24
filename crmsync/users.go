package crmsync

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
)

// UserSyncer is a connector that maps PBX users to CRM users itself
// (dynamics: by e-mail against its system users). The mapping it learns
// is its own; the report is for the operator.
type UserSyncer interface {
	SyncUsers(ctx context.Context, users []bridge.User) (UserReport, error)
}

// UserReport says how a user sync went.
type UserReport struct {
	// Mapped lists each mapped extension and how (for dynamics:
	// "crm_user", "email" for the connector's users[].email, or
	// "directory" for the directory's e-mail).
	Mapped map[string]string `json:"mapped"`
	// Unmapped extensions' activities go to the default owner.
	Unmapped []UnmappedUser `json:"unmapped,omitempty"`
	// CRMUsers is how many CRM users were read.
	CRMUsers int `json:"crm_users"`
	// Problems are what the CRM's users showed wrong with the
	// connector's configuration (dynamics: a default_owner it lacks).
	Problems []string `json:"problems,omitempty"`
}

// UnmappedUser is a PBX user without a CRM user, and why.
type UnmappedUser struct {
	Extension string `json:"extension"`
	Reason    string `json:"reason"`
}

// UserMapper is a connector that tells the user mapping it uses
// (extension -> CRM user id), so a CRM record's owner can be traced back to
// a PBX user (routing a caller to their owner).
type UserMapper interface {
	MappedUsers() map[string]string
}
