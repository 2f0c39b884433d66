// Package mcu is the MCU itself: rooms of participants whose media is
// decoded, composited into one grid, mixed, encoded once per codec and
// rung that somebody receives and sent back to everyone, recordings of those rooms, and the offline compose of
// recordings into one grid file.
//
// A Room runs two clocks, each owned by one goroutine. The video clock is
// the only consumer of its participants' lip-sync queues and hands the due
// pictures to the room's Sinks: the live output, which encodes on that tick
// and chooses each receiver's rung from its bandwidth estimate, and
// recording groups, which encode on goroutines of their own (or write
// the live encoder's packets when their settings are the room's). The audio
// clock mixes every 20 ms, encodes each participant's mix-minus and hands
// the full mix to the sinks. Membership and sinks reach the clocks as
// immutable snapshots; no lock is held across scaling, encoding, muxing or
// file I/O.
package mcu
