//go:build unix

package phoneindex

import "syscall"

// allocBytes returns n zeroed bytes outside the Go heap: an anonymous
// mapping, which the garbage collector neither scans nor counts towards
// its goal, so an index of a million numbers does not double the heap the
// collector lets the daemon grow to. The bytes must hold no Go pointers
// and must be given back with freeBytes.
func allocBytes(n int) []byte {
	if n == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n) // out of address space: let the heap try
	}
	return b
}

func freeBytes(b []byte) {
	if cap(b) == 0 {
		return
	}
	if err := syscall.Munmap(b[:cap(b)]); err != nil {
		_ = err // a heap slice from the fallback above: the collector frees it
	}
}
