//go:build !linux

package childproc

import "os/exec"

// DieWithParent: only Linux has a parent-death signal; elsewhere the owner must end its
// children itself (every owner here stops them on its way out).
func DieWithParent(*exec.Cmd) {}
