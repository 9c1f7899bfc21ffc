//go:build unix

package manifest

import (
	"syscall"
	"unsafe"
)

// allocSlots returns n zeroed slots. A table of offHeapBytes or more is an anonymous
// mapping, outside the Go heap, so that it does not raise the heap size at which the
// garbage collector runs; it must be freed with freeSlots.
func allocSlots(n int) []uint64 {
	size := n * 8
	if size < offHeapBytes {
		return make([]uint64, n)
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n) // no address space left: the heap may still have some
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// freeSlots frees what allocSlots returned. A slice it took from the heap is left to
// the garbage collector.
func freeSlots(s []uint64) {
	if len(s)*8 < offHeapBytes {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*8)
	// EINVAL means it came from the heap after all (allocSlots's fallback).
	_ = syscall.Munmap(b)
}
