//go:build !linux

package main

import "os/exec"

// dieWithParent has no portable equivalent of Linux's Pdeathsig: elsewhere a test
// binary that is killed leaves its workers to the test's cleanup.
func dieWithParent(*exec.Cmd) {}
