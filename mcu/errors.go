package mcu

import "errors"

var (
	// ErrRoomNotFound is returned for a room that does not exist.
	ErrRoomNotFound = errors.New("mcu: room not found")
	// ErrRoomFull is returned when a room already holds MaxParticipants.
	ErrRoomFull = errors.New("mcu: room is full")
	// ErrServerFull is returned when a new room would exceed MaxRooms.
	ErrServerFull = errors.New("mcu: server has its maximum of rooms open")
	// ErrClosed is returned by a closed room or server.
	ErrClosed = errors.New("mcu: closed")
)
