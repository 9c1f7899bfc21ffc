package redisproc

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child never outlive this process, even when it is SIGKILLed.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
