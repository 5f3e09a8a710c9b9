// Package jsonlit reads the JSON literals that the log path's hand-written decoders
// (agentproto's batch reader, delivery's chunk scanner) share: a fixed piece of text and an
// integer. Each function takes the data and a position and returns the position it reached;
// anything it does not accept is left to encoding/json by the caller.
package jsonlit

// Lit reports whether data continues with s at i; if so it returns the position after s,
// else i unchanged.
func Lit(data []byte, i int, s string) (int, bool) {
	if len(data)-i < len(s) || string(data[i:i+len(s)]) != s {
		return i, false
	}
	return i + len(s), true
}

// Int reads a JSON integer at i: an optional minus and 1 to 18 digits, without a leading zero.
// It returns the number, the position it reached (also when it refuses), and whether it is
// one; 19 digits or more are refused, to be decided by encoding/json.
func Int(data []byte, i int) (int64, int, bool) {
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for i < len(data) && data[i] >= '0' && data[i] <= '9' && i-start < 18 {
		n = n*10 + int64(data[i]-'0')
		i++
	}
	if i == start || (data[start] == '0' && i-start > 1) {
		return 0, i, false
	}
	if i < len(data) && data[i] >= '0' && data[i] <= '9' {
		return 0, i, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}
