// Package siptest holds test helpers shared by the SIP packages: running
// events through the engine and comparing activities the way the product
// contract (docs/activity.md) defines them.
package siptest
