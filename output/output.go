// Package output owns the values an operator may choose for a room's
// output, a recording or a compose: picture qualities with their sizes and
// bitrates, frame rates, containers with their codecs, and the audio format
// of the mix. Every parser returns an error that lists the allowed values,
// so the API, the websocket, flags and config files all say the same thing.
package output

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SampleRate is the rate of all decoded, mixed and encoded audio (mono).
const SampleRate = 48000

// Quality names an output picture size.
type Quality string

// The qualities a room, a recording or a compose can use.
const (
	Q360 Quality = "360p"
	Q480 Quality = "480p"
	Q720 Quality = "720p"
)

// Qualities lists the allowed qualities, smallest first.
var Qualities = []Quality{Q360, Q480, Q720}

// FPSValues lists the allowed output frame rates.
var FPSValues = []int{15, 30}

// Format is an output container.
type Format string

// The containers the MCU writes.
const (
	WebM Format = "webm"
	MP4  Format = "mp4"
)

// Formats lists the allowed containers.
var Formats = []Format{WebM, MP4}

// Defaults of a new room (and of compose).
const (
	DefaultQuality = Q720
	DefaultFPS     = 30
	DefaultFormat  = WebM
)

var (
	// ErrBadQuality is wrapped by ParseQuality's errors.
	ErrBadQuality = errors.New("unknown quality")
	// ErrBadFPS is wrapped by ParseFPS's errors.
	ErrBadFPS = errors.New("unsupported fps")
	// ErrBadFormat is wrapped by ParseFormat's errors.
	ErrBadFormat = errors.New("unknown format")
)

// AllowedQualities is the allowed qualities as text: "360p, 480p, 720p".
func AllowedQualities() string { return join(Qualities) }

// AllowedFPS is the allowed frame rates as text: "15, 30".
func AllowedFPS() string { return join(FPSValues) }

// AllowedFormats is the allowed containers as text: "webm, mp4".
func AllowedFormats() string { return join(Formats) }

func join[T any](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// ParseQuality checks a quality name such as "720p" (case and spaces do not matter).
func ParseQuality(s string) (Quality, error) {
	q := Quality(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Qualities {
		if q == v {
			return q, nil
		}
	}
	return "", fmt.Errorf("%w %q (allowed: %s)", ErrBadQuality, s, AllowedQualities())
}

// ParseFPS checks a frame rate.
func ParseFPS(fps int) (int, error) {
	for _, v := range FPSValues {
		if fps == v {
			return fps, nil
		}
	}
	return 0, fmt.Errorf("%w %d (allowed: %s)", ErrBadFPS, fps, AllowedFPS())
}

// ParseFPSString checks a frame rate given as text (a flag or a variable).
func ParseFPSString(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%w %q (allowed: %s)", ErrBadFPS, s, AllowedFPS())
	}
	return ParseFPS(n)
}

// ParseFormat checks a container name ("webm" or "mp4").
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Formats {
		if f == v {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q (allowed: %s)", ErrBadFormat, s, AllowedFormats())
}

// Size returns the picture size of q.
func (q Quality) Size() (w, h int) {
	switch q {
	case Q360:
		return 640, 360
	case Q480:
		return 854, 480
	default:
		return 1280, 720
	}
}

// VideoBitrate is the encoder bitrate in bits per second for q at fps.
func (q Quality) VideoBitrate(fps int) int {
	var b int
	switch q {
	case Q360:
		b = 800_000
	case Q480:
		b = 1_200_000
	default:
		b = 2_000_000
	}
	if fps < 30 {
		b = b * 2 / 3
	}
	return b
}

// VideoCodec is the video codec the container carries: VP8 in WebM, H.264 in MP4.
func (f Format) VideoCodec() string {
	if f == MP4 {
		return "h264"
	}
	return "vp8"
}

// AudioCodec is the audio codec the container carries: Opus in WebM, AAC in MP4.
func (f Format) AudioCodec() string {
	if f == MP4 {
		return "aac"
	}
	return "opus"
}

// AudioBitrate is the bitrate of the mix in a file of format f, in bits per
// second: AAC needs more than Opus for the same quality.
func (f Format) AudioBitrate() int {
	if f == MP4 {
		return 96_000
	}
	return 64_000
}

// NeedsGlobalHeader reports whether the container wants codec headers out
// of band (MP4) rather than in the stream (WebM).
func (f Format) NeedsGlobalHeader() bool { return f == MP4 }

// AudioOnlyExt is the file extension of an audio-only file in format f.
func (f Format) AudioOnlyExt() string {
	if f == MP4 {
		return "m4a"
	}
	return string(f)
}

// LiveAudioBitrate is the bitrate of each participant's Opus mix-minus.
const LiveAudioBitrate = 48_000
