package main

import (
	"context"
	"fmt"
	"io"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "mcu serve: not implemented yet")
	return 1
}
