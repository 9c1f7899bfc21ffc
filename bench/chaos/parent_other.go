//go:build !linux

package main

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere stopAll ends the workers.
func dieWithParent(*exec.Cmd) {}
