package mcu_test

import (
	"context"
	"encoding/json"
	"image/color"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/server"
)

// toneSpans finds when freq plays in s: [start, end) seconds of each run of
// 50 ms windows where its level is above half the tone's amplitude.
func toneSpans(s []float32, freq float64) [][2]float64 {
	const win = 0.05
	var spans [][2]float64
	on := false
	for i := 0; float64(i+1)*win*48000 <= float64(len(s)); i++ {
		l := mediatest.ToneLevel(mediatest.Window(s, float64(i)*win, float64(i+1)*win, 48000), freq, 48000)
		switch {
		case l > 0.1 && !on:
			spans, on = append(spans, [2]float64{float64(i) * win, 0}), true
		case l <= 0.1 && on:
			spans[len(spans)-1][1], on = float64(i)*win, false
		}
	}
	if on {
		spans[len(spans)-1][1] = float64(len(s)) / 48000
	}
	// Gaps are the network's (or a busy machine's), not the speaker's:
	// each test tone plays without a break.
	merged := spans[:0]
	for _, sp := range spans {
		if n := len(merged); n > 0 && sp[0]-merged[n-1][1] < 1 {
			merged[n-1][1] = sp[1]
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// TestRecordingConsentAndTimeline: a recording that excludes blue has
// neither blue's colour nor its tone while another recording of the same
// meeting has both; each recording gets a WebVTT timeline that ffmpeg
// reads as a subtitle stream and whose speaking cues match when the tones
// play in the file within 0.5 s.
func TestRecordingConsentAndTimeline(t *testing.T) {
	mediatest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	s := startServerWith(t, server.Config{RecordingsDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	r, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "consent", Name: "red", Colour: &red, Tone: 500, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "consent", Name: "blue", Colour: &blue, Tone: 1300, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	time.Sleep(time.Second) // both pictures flowing

	without, err := s.Recorder.Start("consent", mcu.RecordingOptions{Name: "without-blue", Exclude: []string{"blue"}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Recorder.Start("consent", mcu.RecordingOptions{Name: "everyone"})
	if err != nil {
		t.Fatal(err)
	}
	// A recording with a layout of its own: blue alone, whatever the room shows.
	single, err := s.Recorder.Start("consent", mcu.RecordingOptions{Name: "blue-only", Layout: "single", Pinned: b.ID, Format: "mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if reuse := s.Recorder.LiveReuse(); reuse[without.ID] || reuse[single.ID] || !reuse[all.ID] {
		t.Errorf("live packets reused: %v; want only by %s, which shows the live picture", reuse, all.ID)
	}
	if _, err := s.Recorder.Start("consent", mcu.RecordingOptions{Include: []string{"a"}, Exclude: []string{"b"}}); err == nil || !strings.Contains(err.Error(), `give "include" or "exclude", not both`) {
		t.Errorf("include and exclude together: %v", err)
	}
	// Red talks, then blue, then both stop.
	time.Sleep(700 * time.Millisecond)
	r.SetTone(true)
	time.Sleep(1500 * time.Millisecond)
	r.SetTone(false)
	time.Sleep(500 * time.Millisecond)
	b.SetTone(true)
	time.Sleep(1500 * time.Millisecond)
	b.SetTone(false)
	time.Sleep(700 * time.Millisecond)
	resp, err := http.Get(s.URL() + "/api/recordings/" + all.ID + "/timeline.vtt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("timeline of a running recording: %d, want 409", resp.StatusCode)
	}
	for _, id := range []string{without.ID, all.ID, single.ID} {
		if got, err := s.Recorder.Stop(id); err != nil || got.State != mcu.StateFinished {
			t.Fatalf("stop: %+v %v", got, err)
		}
	}

	// Pictures: red alone fills the canvas of the consent-limited file
	// (pillarboxed 4:3); the other has both side by side.
	wPath, aPath := filepath.Join(dir, without.ID+".webm"), filepath.Join(dir, all.ID+".webm")
	pic := mediatest.FrameAt(t, wPath, 2, 640, 360)
	if r, g, bb := pic.At(320, 180); !mediatest.Near(r, g, bb, 255, 0, 0, 60) {
		t.Errorf("without-blue: centre is %d,%d,%d, want red alone", r, g, bb)
	}
	for x := 0; x < 640; x += 16 {
		for y := 0; y < 360; y += 16 {
			if r, g, bb := pic.At(x, y); bb > 150 && r < 100 && g < 100 {
				t.Fatalf("without-blue: blue pixel at (%d,%d)", x, y)
			}
		}
	}
	pic = mediatest.FrameAt(t, filepath.Join(dir, single.ID+".mp4"), 2, 640, 360)
	if r, g, bb := pic.At(320, 180); !mediatest.Near(r, g, bb, 0, 0, 255, 60) {
		t.Errorf("blue-only: centre is %d,%d,%d, want blue alone", r, g, bb)
	}
	if r, g, bb := pic.At(40, 180); mediatest.Near(r, g, bb, 255, 0, 0, 60) {
		t.Errorf("blue-only: red at the left")
	}
	pic = mediatest.FrameAt(t, aPath, 2, 640, 360)
	if r, g, bb := pic.At(480, 180); !mediatest.Near(r, g, bb, 0, 0, 255, 60) {
		t.Errorf("everyone: right tile is %d,%d,%d, want blue", r, g, bb)
	}
	// Voices.
	wa, aa := mediatest.AudioOf(t, wPath), mediatest.AudioOf(t, aPath)
	if len(toneSpans(wa, 1300)) != 0 {
		t.Errorf("without-blue: blue's tone is in the file: %v", toneSpans(wa, 1300))
	}
	if len(toneSpans(wa, 500)) == 0 || len(toneSpans(aa, 500)) == 0 || len(toneSpans(aa, 1300)) == 0 {
		t.Errorf("tones missing: red %v / %v, blue %v", toneSpans(wa, 500), toneSpans(aa, 500), toneSpans(aa, 1300))
	}

	// The timeline: ffmpeg reads it as a subtitle stream, and its
	// speaking cues match the tones in the file.
	resp, err = http.Get(s.URL() + "/api/recordings/" + all.ID + "/timeline.vtt")
	if err != nil {
		t.Fatal(err)
	}
	vtt, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/vtt") {
		t.Fatalf("GET timeline.vtt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Logf("timeline:\n%s", vtt)
	vttPath := filepath.Join(t.TempDir(), "t.vtt")
	if err := os.WriteFile(vttPath, vtt, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0", vttPath).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "webvtt,subtitle" {
		t.Errorf("ffprobe timeline.vtt: %q %v", out, err)
	}
	srt, err := exec.Command("ffmpeg", "-v", "error", "-i", vttPath, "-f", "srt", "-").Output()
	if err != nil || !strings.Contains(string(srt), "red speaking") || !strings.Contains(string(srt), "blue speaking") {
		t.Errorf("ffmpeg could not convert the timeline: %v\n%s", err, srt)
	}
	var tl mcu.Timeline
	resp, err = http.Get(s.URL() + "/api/recordings/" + all.ID + "/timeline.json")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&tl)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, freq float64, audio []float32, tl mcu.Timeline) {
		t.Helper()
		spans := toneSpans(audio, freq)
		var cues [][2]float64
		for _, e := range tl.Events {
			if e.Kind == mcu.TimelineSpeaking && e.Name == name {
				cues = append(cues, [2]float64{e.Start, e.End})
			}
		}
		if len(spans) != 1 || len(cues) != 1 {
			t.Errorf("%s: tone spans %v, cues %v: want one of each", name, spans, cues)
			return
		}
		t.Logf("%s: tone %.2f-%.2f s, cue %.2f-%.2f s", name, spans[0][0], spans[0][1], cues[0][0], cues[0][1])
		if math.Abs(spans[0][0]-cues[0][0]) > 0.5 || math.Abs(spans[0][1]-cues[0][1]) > 0.5 {
			t.Errorf("%s: cue %v does not match the tone %v within 0.5 s", name, cues[0], spans[0])
		}
	}
	check("red", 500, aa, tl)
	check("blue", 1300, aa, tl)
	present := map[string]bool{}
	for _, e := range tl.Events {
		if e.Kind == mcu.TimelinePresent {
			present[e.Name] = true
		}
	}
	if !present["red"] || !present["blue"] {
		t.Errorf("timeline does not list who was there: %+v", tl.Events)
	}
	// The consent-limited file's timeline leaves blue out too.
	data, err := os.ReadFile(filepath.Join(dir, without.ID+".timeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"blue"`) {
		t.Errorf("without-blue's timeline names blue:\n%s", data)
	}
	var wtl mcu.Timeline
	if err := json.Unmarshal(data, &wtl); err != nil {
		t.Fatal(err)
	}
	check("red", 500, wa, wtl)
}
