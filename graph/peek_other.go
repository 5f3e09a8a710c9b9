//go:build !unix

package graph

// Without MSG_PEEK the reader waits inside coder/websocket's read.
const canPeek = false

func peekReadable(uintptr) bool { return true }
