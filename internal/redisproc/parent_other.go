//go:build !linux

package redisproc

import "os/exec"

// dieWithParent has no portable equivalent of Linux's Pdeathsig: elsewhere a SIGKILLed
// parent leaves its redis-server running until its data directory is removed.
func dieWithParent(*exec.Cmd) {}
