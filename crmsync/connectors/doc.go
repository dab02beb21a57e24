// Package connectors is the registry of CRM connectors: one map, Types,
// from a connector type ("webhook", "dynamics") to what builds it. It is
// the only package that knows every connector; the contract they implement
// (package crmsync) knows none of them.
//
// A crm: entry of the configuration is a ConnectorConfig: a name, a type
// and the settings section named after the type (webhook:, dynamics:),
// decoded into that type's own settings. Adding a connector is one entry
// in Types; crmsync/README.md walks through it.
package connectors
