package output

import (
	"errors"
	"fmt"
	"strings"
)

// Codec names a live video codec.
type Codec string

// The live video codecs. CodecAuto lets each receiver's offer decide:
// H.264 when it offers both (cheaper to encode, and decoded in hardware on
// most phones), else what it offers.
const (
	CodecAuto Codec = "auto"
	VP8       Codec = "vp8"
	H264      Codec = "h264"
)

// Codecs lists the allowed room codec settings.
var Codecs = []Codec{CodecAuto, VP8, H264}

// DefaultLivePreset is libx264's speed preset for live H.264: ultrafast
// costs about a third of libvpx's CPU at a better SSIM on a conference
// canvas (docs/benchmarks.md).
const DefaultLivePreset = "ultrafast"

// ErrBadCodec is wrapped by ParseCodec's errors.
var ErrBadCodec = errors.New("unknown codec")

// ErrBadRung is wrapped by ParseRung's errors.
var ErrBadRung = errors.New("unknown rung")

// AllowedCodecs is the allowed codec settings as text.
func AllowedCodecs() string { return join(Codecs) }

// ParseCodec checks a room codec setting; "" means auto.
func ParseCodec(s string) (Codec, error) {
	c := Codec(strings.ToLower(strings.TrimSpace(s)))
	if c == "" {
		return CodecAuto, nil
	}
	for _, v := range Codecs {
		if c == v {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w %q (allowed: %s)", ErrBadCodec, s, AllowedCodecs())
}

// Rung is one step of a room's rendition ladder: the room's canvas scaled
// to Width x Height and encoded at Bitrate, at most MaxFPS pictures a
// second.
type Rung struct {
	Name          string `json:"name"`
	Width, Height int    `json:"-"`
	Bitrate       int    `json:"bitrate"`
	MaxFPS        int    `json:"max_fps"`
}

// rungs are every rung there is, largest first; a room's ladder is its own
// quality and those below it.
var rungs = []Rung{
	{Name: "720p", Width: 1280, Height: 720, Bitrate: 2_000_000, MaxFPS: 30},
	{Name: "480p", Width: 854, Height: 480, Bitrate: 1_200_000, MaxFPS: 30},
	{Name: "360p", Width: 640, Height: 360, Bitrate: 600_000, MaxFPS: 30},
	{Name: "180p", Width: 320, Height: 180, Bitrate: 150_000, MaxFPS: 15},
}

// Ladder returns the rungs of a room of quality q at fps, largest first:
// the room's own size at its own bitrate, then 360p (when smaller) and
// 180p. A 720p room skips 480p, which is too close to 360p to be worth an
// encoder.
func Ladder(q Quality, fps int) []Rung {
	w, h := q.Size()
	top := Rung{Name: string(q), Width: w, Height: h, Bitrate: q.VideoBitrate(fps), MaxFPS: fps}
	out := []Rung{top}
	for _, r := range rungs {
		if r.Height >= h || r.Name == "480p" {
			continue
		}
		if r.MaxFPS > fps {
			r.MaxFPS = fps
		}
		if fps < 30 {
			r.Bitrate = r.Bitrate * 2 / 3
		}
		out = append(out, r)
	}
	return out
}

// AllowedRungs names the rungs a room setting may pin or cap to.
func AllowedRungs() string {
	names := make([]string, len(rungs))
	for i, r := range rungs {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

// ParseRung checks a rung name for the pin and cap settings; "" means
// none.
func ParseRung(s string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	if n == "" {
		return "", nil
	}
	for _, r := range rungs {
		if r.Name == n {
			return n, nil
		}
	}
	return "", fmt.Errorf("%w %q (allowed: %s)", ErrBadRung, s, AllowedRungs())
}

// RungIndex finds the rung named name in ladder: the exact one, else the
// largest one no bigger than it; -1 when name is "".
func RungIndex(ladder []Rung, name string) int {
	if name == "" {
		return -1
	}
	h := 0
	for _, r := range rungs {
		if r.Name == name {
			h = r.Height
		}
	}
	for i, r := range ladder {
		if r.Height <= h {
			return i
		}
	}
	return len(ladder) - 1
}
