//go:build !linux

package main

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere stopProcs ends them.
func dieWithParent(*exec.Cmd) {}
