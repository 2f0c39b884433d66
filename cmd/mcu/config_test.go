package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestConfigCommand(t *testing.T) {
	var out, stderr bytes.Buffer
	stdout = &out
	t.Cleanup(func() { stdout = os.Stdout })
	t.Setenv("MCU_KEYS", "APIkey: a-secret-that-must-not-print")
	if code := run(context.Background(), []string{"config", "-fps", "15"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(out.String(), "fps: 15\n") || !strings.Contains(out.String(), "APIkey: '********'") || strings.Contains(out.String(), "a-secret") {
		t.Errorf("mcu config printed:\n%s", out.String())
	}
	stderr.Reset()
	t.Setenv("MCU_FPS", "sixty")
	if code := run(context.Background(), []string{"config"}, &stderr); code != 2 || !strings.Contains(stderr.String(), `env MCU_FPS="sixty" (key fps): want an integer`) {
		t.Errorf("malformed MCU_FPS: exit %d, %q", code, stderr.String())
	}
}
