package mcu

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/output"
)

// makeInputs writes the four inputs of the grid tests into dir:
//
//	red   640x480 VP8+Opus WebM with a variable frame rate (frames dropped), 500 Hz, 4 s
//	blue  320x240 25 fps H.264+AAC MP4, 1300 Hz, 3 s (placed at 1 s)
//	green 360x640 portrait 15 fps VP8 WebM written to a pipe (no duration, no cues,
//	      timestamps starting at 2.5 s as MediaRecorder files may), video only, 5 s
//	tone  audio-only Opus WebM starting at a non-zero timestamp, 2100 Hz, 2 s
func makeInputs(t *testing.T, dir string) []ComposeInput {
	t.Helper()
	red := filepath.Join(dir, "red.webm")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=red:s=640x480:r=30:d=4,select='not(eq(mod(n,7),3))'", "-f", "lavfi", "-i", "sine=f=500:d=4:sample_rate=48000",
		"-fps_mode", "vfr", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus", red)
	blue := filepath.Join(dir, "blue.mp4")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=blue:s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=f=1300:d=3:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", blue)
	green := filepath.Join(dir, "green.webm")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "color=c=green:s=360x640:r=15:d=5",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-output_ts_offset", "2.5", "-f", "webm", "pipe:1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("piped webm: %v", err)
	}
	if err := os.WriteFile(green, out, 0o644); err != nil {
		t.Fatal(err)
	}
	tone := filepath.Join(dir, "tone.webm")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "sine=f=2100:d=2:sample_rate=48000", "-output_ts_offset", "7", "-c:a", "libopus", tone)
	return []ComposeInput{{Path: red}, {Path: blue, Offset: 1}, {Path: green}, {Path: tone, Name: "Tone"}}
}

func TestComposeGridWebM(t *testing.T) {
	mediatest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	inputs := makeInputs(t, dir)
	out := filepath.Join(dir, "grid.webm")
	var reports int
	res, err := Compose(context.Background(), ComposeOptions{Output: out, Quality: output.Q360, FPS: 15, Inputs: inputs,
		Progress: func(ComposeProgress) { reports++ }})
	if err != nil {
		t.Fatal(err)
	}
	if reports == 0 {
		t.Error("no progress reported")
	}
	if _, err := os.Stat(out + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}

	p := mediatest.ProbeFile(t, out, false)
	v, a := p.Video(), p.Audio()
	if v == nil || a == nil {
		t.Fatalf("want one video and one audio stream, got %+v", p.Streams)
	}
	if v.CodecName != "vp8" || a.CodecName != "opus" || v.Width != 640 || v.Height != 360 {
		t.Errorf("streams: %s %dx%d + %s", v.CodecName, v.Width, v.Height, a.CodecName)
	}
	if fps := mediatest.Rate(v.RFrameRate); fps != 15 {
		t.Errorf("frame rate %v, want 15", fps)
	}
	// The longest input is green (5 s); a frame is 1/15 s. Opus packs audio
	// in 20 ms packets, so the container may run a packet longer.
	if d := p.Duration(); math.Abs(d-5) > 1.0/15+0.021 {
		t.Errorf("duration %.3f s, want 5 s within one frame", d)
	}
	if math.Abs(res.Duration-5) > 1.0/15 {
		t.Errorf("reported duration %.3f", res.Duration)
	}

	// Tile centres at 640x360, 2x2 grid: (160,90) (480,90) (160,270) (480,270).
	type want struct {
		name    string
		x, y    int
		r, g, b int
	}
	red, blue, green := [3]int{255, 0, 0}, [3]int{0, 0, 255}, [3]int{0, 128, 0}
	ph := [3]int{44, 48, 58}
	check := func(sec float64, ws ...want) {
		t.Helper()
		pic := mediatest.FrameAt(t, out, sec, 640, 360)
		for _, w := range ws {
			r, g, b := pic.At(w.x, w.y)
			if !mediatest.Near(r, g, b, w.r, w.g, w.b, 40) {
				t.Errorf("at %.1fs %s at (%d,%d) = %d,%d,%d, want about %d,%d,%d", sec, w.name, w.x, w.y, r, g, b, w.r, w.g, w.b)
			}
		}
	}
	c := func(name string, x, y int, col [3]int) want { return want{name, x, y, col[0], col[1], col[2]} }
	check(0.5, c("red", 160, 90, red), c("blue not started", 480, 90, ph), c("green", 160, 270, green), c("audio-only", 480, 270, ph))
	check(2.0, c("red", 160, 90, red), c("blue", 480, 90, blue), c("green", 160, 270, green), c("audio-only", 480, 270, ph),
		// Portrait green stays portrait: pillarbox bars beside it.
		c("green pillarbox", 20, 270, [3]int{12, 12, 14}))
	check(4.6, c("red ended", 160, 90, ph), c("blue ended", 480, 90, ph), c("green", 160, 270, green))

	audio := mediatest.AudioOf(t, out)
	level := func(from, to, f float64) float64 {
		return mediatest.ToneLevel(mediatest.Window(audio, from, to, 48000), f, 48000)
	}
	type tone struct {
		freq     float64
		from, to float64
		present  bool
	}
	for _, tc := range []tone{
		{500, 0.5, 3.5, true}, {500, 4.3, 4.9, false},
		{1300, 0.1, 0.9, false}, {1300, 1.5, 3.5, true}, {1300, 4.3, 4.9, false},
		{2100, 0.2, 1.8, true}, {2100, 2.4, 4.9, false},
	} {
		l := level(tc.from, tc.to, tc.freq)
		if tc.present && l < 0.02 || !tc.present && l > 0.005 {
			t.Errorf("%v Hz between %.1f and %.1f s: level %.4f, want present=%v", tc.freq, tc.from, tc.to, l, tc.present)
		}
	}
}

func TestComposeMP4(t *testing.T) {
	mediatest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.webm")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=white:s=320x240:r=30:d=2", "-f", "lavfi", "-i", "sine=f=700:d=2",
		"-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus", a)
	// VP9 video with PCM audio in Matroska.
	b := filepath.Join(dir, "b.mkv")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=white:s=320x240:r=30:d=2", "-f", "lavfi", "-i", "sine=f=900:d=2",
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "pcm_s16le", b)
	out := filepath.Join(dir, "out.mp4")
	if _, err := Compose(context.Background(), ComposeOptions{Output: out, Quality: output.Q480, FPS: 30, Inputs: []ComposeInput{{Path: a}, {Path: b, Offset: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	p := mediatest.ProbeFile(t, out, false)
	v, au := p.Video(), p.Audio()
	if v == nil || au == nil || v.CodecName != "h264" || au.CodecName != "aac" || v.Width != 854 || v.Height != 480 {
		t.Fatalf("streams: %+v", p.Streams)
	}
	if fps := mediatest.Rate(v.RFrameRate); fps != 30 {
		t.Errorf("frame rate %v, want 30", fps)
	}
	if d := p.Duration(); math.Abs(d-2.5) > 0.1 {
		t.Errorf("duration %.3f, want 2.5", d)
	}
	pic := mediatest.FrameAt(t, out, 1.0, 854, 480)
	audio := mediatest.AudioOf(t, out)
	for _, f := range []float64{700, 900} {
		if l := mediatest.ToneLevel(mediatest.Window(audio, 1, 2, 48000), f, 48000); l < 0.02 {
			t.Errorf("%v Hz missing from the mix (level %.4f)", f, l)
		}
	}
	for _, x := range []int{213, 640} {
		if r, g, b := pic.At(x, 240); !mediatest.Near(r, g, b, 255, 255, 255, 30) {
			t.Errorf("tile at x=%d: %d,%d,%d, want white", x, r, g, b)
		}
	}
}

func TestComposeBadInputs(t *testing.T) {
	mediatest.Need(t, "ffmpeg")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.webm")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=red:s=160x120:r=15:d=1", "-c:v", "libvpx", good)
	corrupt := filepath.Join(dir, "corrupt.webm")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not a media file ", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.webm")
	for _, tc := range []struct {
		name   string
		inputs []ComposeInput
		out    string
		want   string
	}{
		{"missing", []ComposeInput{{Path: good}, {Path: filepath.Join(dir, "missing.webm")}}, out, "missing.webm"},
		{"corrupt", []ComposeInput{{Path: good}, {Path: corrupt}}, out, "corrupt.webm"},
		{"bad extension", []ComposeInput{{Path: good}}, filepath.Join(dir, "out.avi"), ".webm or .mp4"},
		{"no inputs", nil, out, "no inputs"},
	} {
		_, err := Compose(context.Background(), ComposeOptions{Output: tc.out, Quality: output.Q360, FPS: 15, Inputs: tc.inputs})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
		for _, f := range []string{tc.out, tc.out + ".part"} {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s exists after a failed compose", tc.name, f)
			}
		}
	}
	_, err := Compose(context.Background(), ComposeOptions{Output: out, Quality: "1080p", FPS: 15, Inputs: []ComposeInput{{Path: good}}})
	if err == nil || !strings.Contains(err.Error(), "360p, 480p, 720p") {
		t.Errorf("bad quality: %v", err)
	}
	_, err = Compose(context.Background(), ComposeOptions{Output: out, Quality: output.Q360, FPS: 24, Inputs: []ComposeInput{{Path: good}}})
	if err == nil || !strings.Contains(err.Error(), "15, 30") {
		t.Errorf("bad fps: %v", err)
	}
}

func TestParseComposeInput(t *testing.T) {
	for _, tc := range []struct {
		arg    string
		path   string
		offset float64
		bad    bool
	}{
		{"a.webm", "a.webm", 0, false},
		{"a.webm@2.5", "a.webm", 2.5, false},
		{"me@host.webm", "me@host.webm", 0, true},
		{"a.webm@-1", "", 0, true},
	} {
		in, err := ParseComposeInput(tc.arg)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.arg)
			}
			continue
		}
		if err != nil || in.Path != tc.path || in.Offset != tc.offset {
			t.Errorf("%q: %+v %v", tc.arg, in, err)
		}
	}
}
