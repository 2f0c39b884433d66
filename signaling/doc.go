// Package signaling serves the MCU's websocket protocol: participants join a
// room, exchange SDP and trickle ICE candidates, change the room's output
// settings and receive room events as JSON messages. It knows nothing about
// rooms or media; it reaches the room layer only through Backend and Session.
// docs/protocol.md describes the protocol on the wire.
package signaling
