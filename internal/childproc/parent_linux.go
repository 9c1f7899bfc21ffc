//go:build linux

package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel kill the child when this process ends, even on SIGKILL.
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
