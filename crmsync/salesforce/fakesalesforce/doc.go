// Package fakesalesforce is a strict in-process Salesforce for tests and
// benchmarks: the OAuth 2.0 token endpoint (client credentials and JWT
// bearer), the REST API's sObject create and upsert of Task, SOQL queries
// over Task, User, Contact, Lead and Account, and sObject Collections.
//
// It refuses what Salesforce refuses, with Salesforce's statuses and its
// error shape, a JSON array of {message, errorCode, fields}: a missing or
// expired session (401 INVALID_SESSION_ID), unknown fields (INVALID_FIELD),
// wrong JSON types (JSON_PARSER_ERROR), malformed or dangling ids
// (MALFORMED_ID, INVALID_CROSS_REFERENCE_KEY), bad picklist values, strings
// over their length, read-only fields, an inactive owner, a lead with a
// WhatId, more than 200 records in a collection, and requests beyond the
// org's API allowance (403 REQUEST_LIMIT_EXCEEDED). Each rule cites where
// it comes from. It implements what callbridge sends and no more: any
// other request or query is refused, never approximated.
package fakesalesforce
