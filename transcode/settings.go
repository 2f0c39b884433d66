package transcode

import (
	"fmt"
	"strings"
)

// Quality names an output picture size.
type Quality string

// The output qualities a room or a compose can use.
const (
	Q360 Quality = "360p"
	Q480 Quality = "480p"
	Q720 Quality = "720p"
)

// Qualities lists the allowed qualities, smallest first.
var Qualities = []Quality{Q360, Q480, Q720}

// FPSValues lists the allowed output frame rates.
var FPSValues = []int{15, 30}

// ParseQuality checks a quality name such as "720p".
func ParseQuality(s string) (Quality, error) {
	q := Quality(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Qualities {
		if q == v {
			return q, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrBadQuality, s)
}

// CheckFPS checks an output frame rate.
func CheckFPS(fps int) error {
	for _, v := range FPSValues {
		if fps == v {
			return nil
		}
	}
	return fmt.Errorf("%w: %d", ErrBadFPS, fps)
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

// VideoBitrate is the default encoder bitrate in bits per second for q at fps.
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

// Format is an output container.
type Format string

// The containers the MCU writes.
const (
	WebM Format = "webm"
	MP4  Format = "mp4"
)

// ParseFormat checks a container name ("webm" or "mp4").
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case WebM, MP4:
		return f, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadFormat, s)
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

// YUV is a colour in limited-range BT.601 YCbCr.
type YUV struct{ Y, U, V uint8 }

// RGB converts an 8-bit RGB colour to YUV.
func RGB(r, g, b uint8) YUV {
	fr, fg, fb := float64(r), float64(g), float64(b)
	y := 16 + 0.257*fr + 0.504*fg + 0.098*fb
	u := 128 - 0.148*fr - 0.291*fg + 0.439*fb
	v := 128 + 0.439*fr - 0.368*fg - 0.071*fb
	return YUV{clamp8(y), clamp8(u), clamp8(v)}
}

func clamp8(v float64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v + 0.5)
}
