//go:build !unix

package phoneindex

// allocBytes returns n zeroed bytes; without mmap they are on the heap.
func allocBytes(n int) []byte { return make([]byte, n) }

func freeBytes([]byte) {}
