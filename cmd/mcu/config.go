package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcu-dev/mcu/config"
)

// stdout is where "mcu config" prints; tests replace it.
var stdout io.Writer = os.Stdout

// runConfig prints the configuration "mcu serve" would run with, given the
// same flags and environment, secrets masked.
func runConfig(args []string, stderr io.Writer) int {
	cfg, err := config.Load("config", args, os.Environ(), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcu: %v\n", err)
		return 2
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "mcu: warning: %s\n", w)
	}
	if err := cfg.WriteYAML(stdout); err != nil {
		fmt.Fprintf(stderr, "mcu config: %v\n", err)
		return 1
	}
	return 0
}
