//go:build race

package mcu_test

// raceSlowdown scales CPU bounds of tests: the race detector makes the Go
// side of the WebRTC stack (SRTP, interceptors) several times slower, and
// the test process runs the attacking client too.
const raceSlowdown = 3
