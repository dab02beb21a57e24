package crmsync

import "github.com/callbridge/callbridge/bridge"

// Assignment is what the policy decided about where an accepted activity
// goes in the CRM. Connectors read it; none of them is named in it.
type Assignment struct {
	CRMUser  string // the CRM user who owns the activity; "": the connector's default owner
	Email    string // the user's e-mail, for CRMs that map users by e-mail themselves
	Mapped   bool   // CRMUser came from the user mapping, not the default assignee
	Template string // the template code for this kind of call; may be empty
}

// Delivery is one activity on its way to one connector, with what the
// policy decided about it.
type Delivery struct {
	Activity   bridge.Activity
	Assignment Assignment
}
