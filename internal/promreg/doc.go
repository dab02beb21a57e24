// Package promreg holds what callbridge's packages share about Prometheus
// registration: several sources, connectors or indexes of one kind (or the
// same one built again on a reload) register the same collectors on one
// registry, and must share them rather than fail.
package promreg
