// Package script renders the caller card's URL templates: the scripts of
// a crm[] entry and the screen-pop rules' URLs. A template is a URL with
// placeholders for the call, #(Caller number), #(Caller name),
// #(Device name), #(Device number), #(Ddi name), #(Ddi number),
// #(Start time), and for the matched CRM record, $(Field) (its Id, Name,
// Entity, and the fields recognition fetches).
//
// Numbers render in the national form of default_region, as a user there
// dials them; #(Caller number:E164) asks for E.164. Every value is
// escaped for the part of the URL it stands in (path, query, fragment), so
// a name with spaces, '&', '#' or non-ASCII letters never changes the
// link's structure; placeholders in the scheme or host are refused.
// Templates are checked when the configuration is (Parse): an unknown
// placeholder is an error naming the script.
package script
