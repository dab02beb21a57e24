// Package cel reads Asterisk's Channel Event Logging, the PBX's own durable
// record of every channel, as a source of bridge events: the CSV that
// cel_custom writes, the PostgreSQL table of cel_pgsql and the MySQL or
// MariaDB table FreePBX keeps in asteriskcdrdb through cel_odbc.
//
// ARI and AMI report a call as it happens and have no history: what
// happens while callbridge is not connected is gone from them. CEL is
// written by Asterisk whether anyone listens or not, so it fills such
// gaps. The mapping (Mapper) turns CEL rows into the same events the live
// sources give, so the engine builds the same activities with the same ids
// (a call's id is its first channel's unique id, as Asterisk's linkedid
// is): an activity delivered live and again from CEL is one activity.
//
// What CEL cannot say, and how the activities differ from ARI's, is in
// docs/cel.md: no ringing (an offer starts at the callee's CHAN_START), no
// connected line, no channel variables (the privacy mark needs a
// CELGenUserEvent), and with FreePBX's datetime column, times to the second
// in the PBX's local time.
package cel
