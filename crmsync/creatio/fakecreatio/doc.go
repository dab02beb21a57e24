// Package fakecreatio is a strict in-process Creatio for tests and
// benchmarks: the identity service's token endpoint (client credentials),
// forms login (AuthService.svc/Login with its .ASPXAUTH and BPMCSRF
// cookies), and OData 4 over Call, Activity, Contact, Account,
// SysAdminUnit and the lookups they use.
//
// It refuses what Creatio refuses, with the OData error shape {"error":
// {"code", "message"}}: a missing or expired token or session, a forms
// request without the BPMCSRF header matching its cookie (401), a refused
// login (200 with Code 1), properties the entity does not have, values of
// the wrong type or format, references to rows that do not exist, a
// client-chosen Id already taken, and $select, $filter, $orderby, $top or
// $expand it cannot read (400). Each rule cites where it comes from.
package fakecreatio
