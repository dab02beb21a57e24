// Package fakezoho is a strict in-process Zoho CRM for tests and
// benchmarks: the accounts server's token endpoint (refresh token grant),
// the Calls module (insert, field metadata), COQL queries, users, the
// org's details, and Contacts, Leads and Accounts records.
//
// It refuses what Zoho refuses, with Zoho's statuses and its error shape
// {code, details, message, status}, per record inside "data" for inserts:
// a missing, revoked or expired token (401 INVALID_TOKEN), a token answer
// with 200 and an error field for a refused refresh token, missing
// mandatory fields (MANDATORY_NOT_FOUND), values of the wrong type or
// format (INVALID_DATA, with the field's api_name and expected type),
// lookups to missing records or inactive owners, What_Id without
// $se_module, duplicates of a unique field (DUPLICATE_DATA), more than
// 100 records an insert or 50 values in a COQL IN, and requests beyond the
// org's credits or concurrency (429 TOO_MANY_REQUESTS). It drops what Zoho
// drops: values of fields the module does not have are ignored. Empty
// answers are 204 and unchanged ones 304, as Zoho's. Each rule cites where
// it comes from.
package fakezoho
