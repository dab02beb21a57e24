// Command callbridge turns a PBX's call signalling into per-user phone-call
// activities for a CRM. This file only wires: flags, signals, components
// built from config. Run `callbridge help` for the commands.
package main
