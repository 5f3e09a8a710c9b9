//go:build unix

package graph

import "syscall"

const canPeek = true

// peekReadable is a syscall.RawConn read function: true when the socket
// has something to read, an end or an error (the read that follows reports
// it); false (the runtime's poller then waits for it to become readable)
// when it has nothing yet. It takes nothing from the socket.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
	return err != syscall.EAGAIN
}
