// Package transcode wraps the FFmpeg work of the MCU: demuxing and decoding
// whatever FFmpeg reads, scaling pictures into a canvas, resampling audio to
// the mixer's format, encoding (VP8, H.264, Opus, AAC) and muxing to WebM or
// fragmented MP4.
//
// It is the only package that uses cgo, through go-astiav v0.16.0 and the
// small helper in mcu_helper.c for what astiav cannot do from Go: writing
// pixels and samples into frames. Each C object has one owner, which frees it
// in Close; none of the types here are safe for concurrent use unless stated.
package transcode
