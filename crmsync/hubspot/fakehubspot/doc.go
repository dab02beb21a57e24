// Package fakehubspot is a strict in-process HubSpot for tests and
// benchmarks: calls (create, batch create, search), contacts and companies
// (list, search), owners and the account's details, behind a private app
// token.
//
// It refuses what HubSpot refuses, with HubSpot's statuses and its error
// shape {status, message, correlationId, category, errors[]}: a missing or
// revoked token (401 INVALID_AUTHENTICATION), properties calls do not have
// (PROPERTY_DOESNT_EXIST), read-only properties, values of the wrong type
// or outside an enumeration, an owner that does not exist, associations to
// missing records or of unknown types, over-size batches and pages, and
// requests beyond the limits (429 RATE_LIMIT with policyName
// TEN_SECONDLY_ROLLING, SECONDLY for search, DAILY). It also does what
// HubSpot does silently: unknown top-level keys of a body are ignored,
// unknown properties asked for in a list are left out, and the search
// index lags writes by IndexLag. Each rule cites where it comes from.
package fakehubspot
