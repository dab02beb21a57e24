// Package layout holds no code: its tests keep the house in order. One
// lists every package's dependencies (go list) and checks that imports
// point one way (adapters never reach the CRM side, the contract never
// reaches a connector, only cmd and internal/app import everything); the
// other keeps every non-test Go file under 800 lines.
package layout
