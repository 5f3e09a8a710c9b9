// Package proc answers questions about other processes that tests and benchmarks ask.
package proc

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Alive reports whether a process exists and is not a zombie (a killed process reparented to an
// init that has not reaped it yet is dead for this purpose).
func Alive(pid int) bool {
	if runtime.GOOS == "linux" {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// pid (comm) state ...: the state follows the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
