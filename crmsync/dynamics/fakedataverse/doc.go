// Package fakedataverse is a strict in-process Dataverse Web API (v9.2)
// and Microsoft Entra token endpoint for tests and benchmarks. It refuses
// what the real service refuses, with the real statuses and the Dataverse
// error shape {"error":{"code":"0x...","message":"..."}}: a missing or
// unknown bearer token (401), a wrong OData-Version (400), attributes the
// table does not have (400, 0x80060888), malformed or dangling
// @odata.bind references, statecode or statuscode on create, a duplicate
// primary key (412, 0x80040237), and requests beyond the service-protection
// limits (429 with Retry-After). It pages large results with
// @odata.nextLink and executes $batch requests with atomic changesets.
//
// It implements what callbridge uses (phonecalls with custom columns
// given in Options, systemusers, teams, contacts, accounts, leads with
// their owners, queues, queueitems and the AddToQueue action: see
// queues.go) and no more: an unsupported query is a 400, never a
// silent approximation.
package fakedataverse
