//go:build !race

package main

// raceEnabled: the test runs without the race detector, and so does the server it builds.
const raceEnabled = false
