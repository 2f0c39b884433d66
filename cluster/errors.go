package cluster

import "errors"

var (
	// ErrFull means every live node is over its CPU threshold (or
	// draining): no node takes a new room.
	ErrFull = errors.New("cluster: every node is over its CPU threshold; no node takes a new room")
	// ErrBusy means another node held the room's creation lock for too
	// long.
	ErrBusy = errors.New("cluster: another node is creating the room")
	// ErrNoNodeURL means cluster mode was asked for without the node's
	// public URL.
	ErrNoNodeURL = errors.New("cluster: the node's public URL (node_url) is required")
	// ErrUnreachable means the node holding a room or recording is not
	// registered as live.
	ErrUnreachable = errors.New("cluster: the node holding it is unreachable")
	// ErrDirectory means Redis could not be reached or answered an error.
	ErrDirectory = errors.New("cluster: the room directory (Redis) is unavailable")
)
