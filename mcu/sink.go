package mcu

import (
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
)

// Sink consumes a room's media: the live output, each recording group, and
// later renditions and viewers. A sink never calls into participants, never
// takes the room's lock and never reads the room's context: it is handed
// everything it needs.
//
// The room's video goroutine calls SetTiles, Picture and EndTile, in the
// order the events happened; the room's audio goroutine calls Audio. Every
// call must return quickly: a sink takes a reference or a copy of what it
// keeps and does its heavy work (scaling, encoding, muxing, file I/O) on a
// goroutine of its own.
type Sink interface {
	// SetTiles gives the publishers in display order; it comes first, and
	// again whenever someone joins, leaves or changes name.
	SetTiles(tiles []mixer.Tile)
	// SetLayout gives the room's layout and pinned participant; it comes
	// first, and again whenever an operator changes them. A sink with a
	// layout of its own ignores it.
	SetLayout(l mixer.Layout, pinned string)
	// Picture is participant id's picture that is due now against its
	// audio. f stays owned by the room; the sink references it to keep it.
	Picture(id string, f *astiav.Frame, arrived time.Time)
	// EndTile says participant id shows no picture (camera off) until its
	// next Picture.
	EndTile(id string)
	// Audio is the next 20 ms of the room's full mix, for wall-clock time
	// at. mix is reused after the call returns.
	Audio(mix []float32, at time.Time)
}

// voiceSink is a Sink that mixes for itself when wantsVoices: a recording
// that leaves people out gets every voice instead of the room's mix, on
// the audio goroutine, in place of Audio.
type voiceSink interface {
	wantsVoices() bool
	// Voices gives participant ids[i]'s 20 ms block blocks[i] (nil for
	// silence) for wall-clock time at; the blocks are reused afterwards.
	Voices(ids []string, blocks [][]float32, at time.Time)
}

// LivePacket is one packet of the room's live video output, handed to
// subscribers (recordings at the room's own settings) instead of encoding
// the same picture twice.
type LivePacket struct {
	// Packet is the subscriber's own reference; it must free it.
	Packet *astiav.Packet
	// At is the room clock's tick the picture was made for.
	At time.Time
	// Key marks a keyframe.
	Key bool
	// Settings are the live output's settings when it was encoded.
	Settings Settings
}

// PacketSubscriber receives the live encoder's packets on the room's video
// goroutine. LivePacket must not block: a subscriber that cannot keep up
// drops and frees the packet.
type PacketSubscriber interface {
	LivePacket(p LivePacket)
	// LiveCodec is the codec of the room-size rendition it wants.
	LiveCodec() output.Codec
}
