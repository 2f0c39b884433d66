package mcu

import "errors"

var (
	// ErrRoomNotFound is returned for a room that does not exist.
	ErrRoomNotFound = errors.New("mcu: room not found")
	// ErrRoomFull is returned when a room already holds MaxParticipants.
	ErrRoomFull = errors.New("mcu: room is full")
	// ErrClosed is returned by a closed room or server.
	ErrClosed = errors.New("mcu: closed")
)
