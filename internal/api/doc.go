// Package api is callbridge's one HTTP mux on http.listen. Every route is
// registered with the role that may call it (Public, Dialplan, Agent,
// Admin) and passes through the one guard that checks it: Mux.Handle takes
// the role as an argument, so a route without one cannot be added.
//
// The token model. The Authorizer (Tokens, built from http.admin_token_*,
// http.dialplan_tokens and users[].token_*) resolves a request to a
// Principal{Role, User, Name} from "Authorization: Bearer <token>" or from
// the session cookie POST /api/session sets (HttpOnly, SameSite=Strict,
// Secure over TLS); a token is never taken from a URL. The guard puts the
// principal in the request's context (PrincipalFrom) and enforces:
//
//   - public routes are served to anyone;
//   - the admin may call every route;
//   - a dialplan token calls dialplan routes; an agent token calls agent
//     routes for its own user only (the route's {extension}, or ?user= on
//     /api/live): another user's is 403;
//   - a missing or wrong token is 401, a role that does not fit 403;
//   - on a loopback listener, dialplan routes are open while no dialplan
//     token is configured (Authorizer.Open); agent and admin routes never
//     are.
//
// Request bodies are limited (413) and live streams counted per agent and
// in total (429). Routes answer from memory; anything slow is an Operation
// started by the request (202 with its status URL) and run outside it. The
// package reaches the rest of callbridge only through the small interfaces
// it defines (Lookup, Router, Wrapups, Callbacks, Integrations, Users,
// Queue, Live, Agents, Dialer, Readiness), which internal/app implements
// and wires: see New for every route and its role.
//
// The dialplan's routes (lookup, route, disposition, callbacks) fail open
// and answer from memory: /api/route answers no target (204) rather than
// an error, whatever goes wrong. Their bodies are bounded more tightly
// than http.limits.max_body_bytes (a few KiB each), and numbers appear in
// log lines masked to their last four digits.
//
// The agents' desktop (agents.go, page.go): the caller-card stream,
// click-to-dial through a Dialer (ari.Originator, ami.Originator),
// presence (GET /api/agents: every user for the admin, ?user= one user
// for their own token), and the /agent page embedded in the binary.
package api
