//go:build !unix

package agent

import "os/exec"

// setProcessGroup does nothing where process groups do not exist: only the task's main process
// is stopped on cancel (its children may survive).
func setProcessGroup(*exec.Cmd) {}

// terminateGroup kills the main process (there is no gentle signal everywhere).
func terminateGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// killGroup kills the main process.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
