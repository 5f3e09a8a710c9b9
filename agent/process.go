package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// process describes one task process.
type process struct {
	path  string   // program, absolute
	args  []string // arguments after the program
	dir   string
	env   []string
	out   io.Writer // stdout and stderr, in the order the process writes them
	grace time.Duration
	// started, if set, is called once the process runs, before any of its output is read.
	started func()
}

// errOrphanOutput is returned when a process's output pipe stays open after its process group
// was killed (a descendant left the group and kept the pipe).
var errOrphanOutput = errors.New("output still open after the task's processes were killed")

// run starts p in its own process group, copies its output to p.out, and waits for it. When ctx
// is done it stops the whole group: SIGTERM, then SIGKILL after p.grace. After the main process
// exits, whatever is left of its group is killed too (a task must not leave processes behind). It
// returns the exit code (-1 when killed by a signal) and an error only when the process could not
// run or its output could not be read to the end.
func (p process) run(ctx context.Context) (int, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("creating output pipe: %w", err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdin = nil
	// One pipe for both streams keeps their relative order.
	cmd.Stdout, cmd.Stderr = pw, pw
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return -1, fmt.Errorf("starting %s: %w", p.path, err)
	}
	pw.Close()
	if p.started != nil {
		p.started()
	}

	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(p.out, pr)
		copied <- err
	}()

	exited := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		terminateGroup(cmd)
		t := time.NewTimer(p.grace)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
		}
		killGroup(cmd)
	}()

	waitErr := cmd.Wait()
	close(exited)
	<-killed
	killGroup(cmd) // leftovers of a process that exited by itself

	// The pipe reaches EOF once every process holding it is gone. A descendant that escaped the
	// group (setsid) could hold it forever: bound the wait.
	var copyErr error
	select {
	case copyErr = <-copied:
	case <-time.After(p.grace + 5*time.Second):
		pr.Close()
		<-copied
		copyErr = errOrphanOutput
	}
	pr.Close()

	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return code, fmt.Errorf("waiting for %s: %w", p.path, waitErr)
	}
	if copyErr != nil {
		return code, fmt.Errorf("reading output: %w", copyErr)
	}
	return code, nil
}
