// Package hep decodes and encodes HEP (Homer Encapsulation Protocol)
// packets, the format PBXs and proxies (Asterisk res_hep, FreeSWITCH,
// Kamailio siptrace) use to mirror their SIP signalling to a collector, and
// runs UDP and TCP collectors that feed the mirrored SIP into the dialog
// tracker of package dialog.
//
// The codec is written from the HEP3 specification: a "HEP3" header with the
// total length, then chunks of vendor id, type id and length. HEP v1/v2 (the
// older fixed binary header) is decoded as well. Malformed packets give an
// error; nothing panics on hostile input.
package hep
