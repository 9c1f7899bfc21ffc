//go:build !unix

package manifest

// allocSlots returns n zeroed slots, from the Go heap on this system.
func allocSlots(n int) []uint64 { return make([]uint64, n) }

// freeSlots leaves s to the garbage collector.
func freeSlots([]uint64) {}
