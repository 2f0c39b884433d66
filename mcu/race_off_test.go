//go:build !race

package mcu_test

// raceSlowdown scales CPU bounds of tests; see race_on_test.go.
const raceSlowdown = 1
