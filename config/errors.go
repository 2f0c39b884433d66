package config

import (
	"errors"
	"fmt"
)

// Errors wrapped by Load and Validate, for errors.Is.
var (
	// ErrUnknownKey is a YAML key that no setting has.
	ErrUnknownKey = errors.New("unknown key")
	// ErrBadValue is a value outside what a setting allows.
	ErrBadValue = errors.New("bad value")

	errWant    = errors.New("malformed value")
	errBadSize = errors.New("not a size")
	errBadKeys = errors.New("malformed keys")
	errBadICE  = errors.New("malformed ICE server")
)

// Error is a configuration problem; its text names the key, variable or
// flag and what is allowed.
type Error struct {
	Msg  string
	Kind error // ErrUnknownKey or ErrBadValue
}

func (e *Error) Error() string { return "config: " + e.Msg }

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

func badValue(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: ErrBadValue}
}
