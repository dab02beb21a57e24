// Package siptest holds test helpers shared by the SIP packages: running
// events through the engine and comparing activities the way the product
// contract (SEMANTICS.md) defines them.
package siptest
