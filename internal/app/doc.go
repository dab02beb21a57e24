// Package app is callbridge's composition root: it builds `callbridge run`
// from a validated configuration and runs it. New builds every part (the
// configured sources, the delivery path of package pipeline, the CRM
// connectors and their store, the HTTP API) and closes what it opened when
// a later part fails; Run runs them until its context ends and shuts them
// down in order. The whole daemon can be started inside a test; only main
// touches OS signals.
//
//	app.go        App, New: what is built, in order
//	sources.go    the PBX sources (ARI, AMI, SIP/HEP) and the SIP subscriber
//	delivery.go   the store, policy, connectors and phone indexes
//	lifecycle.go  Run, the shutdown order, the cleanup stack, the tasks a reload restarts
//	reload.go     SIGHUP: validate and build the new file whole, then apply it
//	health.go     /readyz's checks, READY=1, the watchdog, their metrics
//	metrics.go    the Prometheus registry
//	http.go       the API: listener, TLS, tokens, answered from the running parts
//	live.go       the live transitions' fan-out to /api/live
//	logs.go       every library's log lines into zerolog
//	desk.go       the agents' caller cards (also the users' presence), their CRM lookups, click-to-dial
//
// The other commands' work is here too, so that cmd/ only parses flags:
// replay.go (`callbridge replay`) and usersimport.go (`users import`).
package app
