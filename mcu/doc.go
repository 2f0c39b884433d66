// Package mcu is the MCU itself: rooms of participants whose media is
// decoded, composited into one grid, mixed, encoded once and sent back to
// everyone, and the offline compose of recordings into one grid file.
package mcu
