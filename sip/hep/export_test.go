package hep

// What the tests of package hep_test reach inside a Collector for.

// BatchMax is the default bound on a batch's packets.
const BatchMax = batchMax

// SetBatchMax sets the bound on a batch's packets.
func (c *Collector) SetBatchMax(n int) { c.batchMax = n }

// Received queues b as the UDP listener does with a datagram it read.
func (c *Collector) Received(b []byte) { c.enqueue(b, "udp") }
