// Package creatio is the Creatio connector: it writes each activity over
// OData 4 as a Call record and/or an Activity of category Call, for the
// caller's contact and account, owned by the employee the PBX user maps
// to, exactly once however often it is pushed.
//
// It authenticates with OAuth 2.0 client credentials through Creatio's
// identity service, or by forms login with the BPMCSRF cookie and header
// for on-site installs; maps users by e-mail against Creatio's users
// (SysAdminUnit and their contacts); and reads contacts and accounts for
// caller recognition (it is a phoneindex.Source). Exactly once rests on a
// client-chosen primary key: the record's Id is a name-based UUID of the
// activity id, so a retried create cannot make a second record and a
// record possibly written is looked up by that Id. See README.md.
package creatio
