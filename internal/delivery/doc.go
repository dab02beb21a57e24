// Package delivery builds the path from finished activities to the CRMs out
// of the configuration: the store (embedded bbolt or Redis), the policy,
// the connectors and their delivery workers. The daemon, the demo and the
// queue commands share it.
package delivery
