package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child end when the test binary does, even on a SIGKILL.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
