// Package mediatest holds what the MCU's tests share to judge media: making
// inputs with ffmpeg's lavfi sources, asking ffprobe about files, sampling
// pixels of decoded pictures and measuring tones in decoded audio.
package mediatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Need fails the test (CI=true) or skips it when a program is missing.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required (run scripts/deps.sh): %v", p, err)
			}
			t.Skipf("%s not installed: %v", p, err)
		}
	}
}

// FFmpeg runs ffmpeg with args and fails the test on error.
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()
	Need(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Stream is what ffprobe says of one stream.
type Stream struct {
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	RFrameRate string `json:"r_frame_rate"`
	AvgRate    string `json:"avg_frame_rate"`
	NbFrames   string `json:"nb_read_frames"`
	Duration   string `json:"duration"`
}

// Probe is what ffprobe says of a file.
type Probe struct {
	Streams []Stream `json:"streams"`
	Format  struct {
		Duration   string `json:"duration"`
		FormatName string `json:"format_name"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// ProbeFile runs ffprobe on path. With countFrames, every frame is decoded
// and counted (slow, but exact for files without an index).
func ProbeFile(t testing.TB, path string, countFrames bool) Probe {
	t.Helper()
	Need(t, "ffprobe")
	args := []string{"-v", "error", "-print_format", "json", "-show_streams", "-show_format"}
	if countFrames {
		args = append(args, "-count_frames")
	}
	out, err := exec.Command("ffprobe", append(args, path)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p
}

// Video returns the first video stream, or nil.
func (p Probe) Video() *Stream { return p.first("video") }

// Audio returns the first audio stream, or nil.
func (p Probe) Audio() *Stream { return p.first("audio") }

func (p Probe) first(kind string) *Stream {
	for i := range p.Streams {
		if p.Streams[i].CodecType == kind {
			return &p.Streams[i]
		}
	}
	return nil
}

// Duration is the container's duration in seconds (0 if unknown).
func (p Probe) Duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// Rate parses an ffprobe rate such as "30/1".
func Rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		v, _ := strconv.ParseFloat(s, 64)
		return v
	}
	a, _ := strconv.ParseFloat(n, 64)
	b, _ := strconv.ParseFloat(d, 64)
	if b == 0 {
		return 0
	}
	return a / b
}

// Picture is a decoded RGB picture.
type Picture struct {
	W, H int
	Pix  []byte // rgb24
}

// At returns the colour at (x, y).
func (p Picture) At(x, y int) (r, g, b int) {
	i := (y*p.W + x) * 3
	return int(p.Pix[i]), int(p.Pix[i+1]), int(p.Pix[i+2])
}

// FrameAt decodes the picture of path shown at time sec, at its own size w x h.
func FrameAt(t testing.TB, path string, sec float64, w, h int) Picture {
	t.Helper()
	Need(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", path, "-ss", fmt.Sprintf("%.3f", sec),
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", w, h), "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) != w*h*3 {
		t.Fatalf("decoding %s at %.2fs: %v (%d bytes) %s", path, sec, err, len(out), stderr.String())
	}
	return Picture{W: w, H: h, Pix: out}
}

// Near tells whether colour (r, g, b) is within tol of (wr, wg, wb) on every channel.
func Near(r, g, b, wr, wg, wb, tol int) bool {
	return abs(r-wr) <= tol && abs(g-wg) <= tol && abs(b-wb) <= tol
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// AudioOf decodes path's audio to mono float32 at 48 kHz.
func AudioOf(t testing.TB, path string) []float32 {
	t.Helper()
	Need(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", path, "-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decoding audio of %s: %v", path, err)
	}
	return F32(out)
}

// F32 reinterprets little-endian float32 bytes.
func F32(b []byte) []float32 {
	s := make([]float32, len(b)/4)
	for i := range s {
		u := uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		s[i] = math.Float32frombits(u)
	}
	return s
}

// ToneLevel is the amplitude of freq (Hz) in s, sampled at rate.
func ToneLevel(s []float32, freq float64, rate int) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range s {
		s0 := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(p, 0)) / float64(len(s))
}

// Window returns the samples of s between from and to seconds at rate.
func Window(s []float32, from, to float64, rate int) []float32 {
	a, b := int(from*float64(rate)), int(to*float64(rate))
	a, b = max(0, min(a, len(s))), max(0, min(b, len(s)))
	return s[a:b]
}
