package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

type apiServer struct {
	*server.Server
	dir string
}

func startAPI(t *testing.T, dir string) *apiServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Config{
		Rooms:         mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true},
		RecordingsDir: dir,
		Log:           log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s := &apiServer{Server: srv, dir: dir}
	t.Cleanup(s.close)
	return s
}

func (s *apiServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

func (s *apiServer) ws() string { return s.WebsocketURL() }

// call makes a request and returns the status and body.
func (s *apiServer) call(t *testing.T, method, path, body string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (s *apiServer) expect(t *testing.T, method, path, body string, status int, contains string) []byte {
	t.Helper()
	code, b, _ := s.call(t, method, path, body)
	if code != status || !strings.Contains(strings.ReplaceAll(string(b), `\"`, `"`), contains) {
		t.Errorf("%s %s %s: %d %s, want %d containing %q", method, path, body, code, b, status, contains)
	}
	return b
}

func decodeRec(t *testing.T, b []byte) mcu.Recording {
	t.Helper()
	var r mcu.Recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return r
}

func joinColours(t *testing.T, s *apiServer, room string, cols ...color.RGBA) []*peer.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*peer.Client
	for i, c := range cols {
		col := c
		cl, err := peer.Dial(ctx, peer.Options{URL: s.ws(), Room: room, Name: fmt.Sprintf("p%d", i), Colour: &col, Tone: float64(600 + 400*i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cl)
		t.Cleanup(cl.Close)
	}
	return out
}

func TestRoomAPI(t *testing.T) {
	s := startAPI(t, t.TempDir())
	joinColours(t, s, "api", color.RGBA{255, 0, 0, 255})
	s.expect(t, "GET", "/api/rooms", "", 200, `"name":"api"`)
	s.expect(t, "GET", "/api/rooms/api", "", 200, `"quality":"360p"`)
	s.expect(t, "GET", "/api/rooms/nope", "", 404, "room nope not found")
	s.expect(t, "PUT", "/api/rooms/nope", `{"fps":15}`, 404, "not found")
	s.expect(t, "PUT", "/api/rooms/api", `{"quality":"1080p"}`, 400, "360p, 480p, 720p")
	s.expect(t, "PUT", "/api/rooms/api", `{"fps":24}`, 400, "15, 30")
	s.expect(t, "PUT", "/api/rooms/api", `{"fps":"fast"}`, 400, `"fps"`)
	s.expect(t, "PUT", "/api/rooms/api", `{"colour":"red"}`, 400, "unknown field")
	s.expect(t, "PUT", "/api/rooms/api", `{`, 400, "invalid JSON")
	s.expect(t, "PUT", "/api/rooms/api", ``, 400, "empty body")
	s.expect(t, "PUT", "/api/rooms/api", `{}`, 400, `"quality"`)
	s.expect(t, "PUT", "/api/rooms/api", `{"quality":"480p","fps":15}`, 200, `"quality":"480p"`)
	s.expect(t, "PUT", "/api/rooms/api", `{"q":"`+strings.Repeat("x", 100<<10)+`"}`, 400, "")
	s.expect(t, "GET", "/api/nothing", "", 404, "no such API endpoint")
}

func TestRecordingAPI(t *testing.T) {
	mediatest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	s := startAPI(t, dir)
	joinColours(t, s, "rec", color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255})
	time.Sleep(time.Second) // let the first pictures arrive

	// Bad requests name the field and the allowed values.
	s.expect(t, "POST", "/api/rooms/nope/recordings", `{}`, 404, "room nope not found")
	s.expect(t, "POST", "/api/rooms/rec/recordings", `{"format":"avi"}`, 400, `"format": unknown format "avi" (allowed: webm, mp4)`)
	s.expect(t, "POST", "/api/rooms/rec/recordings", `{"quality":"1080p"}`, 400, `"quality": unknown quality "1080p" (allowed: 360p, 480p, 720p)`)
	s.expect(t, "POST", "/api/rooms/rec/recordings", `{"fps":24}`, 400, `"fps": unsupported fps 24 (allowed: 15, 30)`)
	s.expect(t, "POST", "/api/rooms/rec/recordings", `{"audio_only":"yes"}`, 400, `"audio_only"`)
	s.expect(t, "POST", "/api/rooms/rec/recordings", `{"bogus":1}`, 400, "unknown field")
	s.expect(t, "GET", "/api/recordings/0000", "", 404, "not found")
	s.expect(t, "POST", "/api/recordings/0000/stop", "", 404, "not found")
	s.expect(t, "DELETE", "/api/recordings/0000", "", 404, "not found")
	s.expect(t, "GET", "/api/recordings/0000/download", "", 404, "not found")

	// Three recordings at once: the defaults (WebM at the room's 360p15),
	// an audio-only M4A, and a 480p30 MP4.
	started := time.Now()
	webm := decodeRec(t, s.expect(t, "POST", "/api/rooms/rec/recordings", `{"name":"Weekly meeting"}`, 201, `"state":"recording"`))
	m4a := decodeRec(t, s.expect(t, "POST", "/api/rooms/rec/recordings", `{"format":"mp4","audio_only":true}`, 201, `"audio_only":true`))
	mp4 := decodeRec(t, s.expect(t, "POST", "/api/rooms/rec/recordings", `{"format":"mp4","quality":"480p","fps":30}`, 201, `"quality":"480p"`))
	if webm.Format != "webm" || webm.Quality != "360p" || webm.FPS != 15 || webm.DownloadURL != "/api/recordings/"+webm.ID+"/download" {
		t.Errorf("defaults: %+v", webm)
	}
	time.Sleep(3 * time.Second)

	// Download while recording: what is written so far plays.
	code, partial, _ := s.call(t, "GET", webm.DownloadURL, "")
	if code != 200 || len(partial) == 0 {
		t.Fatalf("download during recording: %d, %d bytes", code, len(partial))
	}
	prefix := filepath.Join(t.TempDir(), "prefix.webm")
	if err := os.WriteFile(prefix, partial, 0o644); err != nil {
		t.Fatal(err)
	}
	if v := mediatest.ProbeFile(t, prefix, true).Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" {
		t.Errorf("prefix of a running recording does not play: %+v", v)
	}
	time.Sleep(2 * time.Second)

	for _, r := range []mcu.Recording{webm, m4a, mp4} {
		got := decodeRec(t, s.expect(t, "POST", "/api/recordings/"+r.ID+"/stop", "", 200, `"state":"finished"`))
		elapsed := time.Since(started).Seconds()
		if got.SizeBytes <= 0 || got.EndedAt == nil || math.Abs(got.DurationS-elapsed) > 1 {
			t.Errorf("stopped %s (%s %s audio-only %v): size %d, duration %.2f s for %.2f s of wall clock", r.ID, r.Format, r.Quality, r.AudioOnly, got.SizeBytes, got.DurationS, elapsed)
		}
	}
	// Stopping twice is harmless.
	s.expect(t, "POST", "/api/recordings/"+webm.ID+"/stop", "", 200, `"state":"finished"`)

	var list struct{ Recordings []mcu.Recording }
	if err := json.Unmarshal(s.expect(t, "GET", "/api/recordings", "", 200, ""), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Recordings) != 3 || list.Recordings[0].ID != mp4.ID || list.Recordings[2].ID != webm.ID {
		t.Errorf("list is not newest first: %+v", list.Recordings)
	}

	// Downloads: name, type, Range.
	code, body, hdr := s.call(t, "GET", webm.DownloadURL, "")
	if code != 200 || !strings.Contains(hdr.Get("Content-Disposition"), `filename=Weekly_meeting.webm`) || hdr.Get("Content-Type") != "video/webm" {
		t.Errorf("download: %d %v", code, hdr)
	}
	code, part, hdr := s.call(t, "GET", webm.DownloadURL, "", "Range", "bytes=100-199")
	if code != http.StatusPartialContent || len(part) != 100 || !bytes.Equal(part, body[100:200]) || !strings.HasPrefix(hdr.Get("Content-Range"), "bytes 100-199/") {
		t.Errorf("range download: %d, %d bytes, %v", code, len(part), hdr.Get("Content-Range"))
	}

	probe := func(r mcu.Recording) mediatest.Probe {
		code, b, _ := s.call(t, "GET", r.DownloadURL, "")
		if code != 200 {
			t.Fatalf("download %s: %d", r.ID, code)
		}
		f := filepath.Join(t.TempDir(), r.File)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return mediatest.ProbeFile(t, f, false)
	}
	p := probe(webm)
	if v, a := p.Video(), p.Audio(); v == nil || a == nil || v.CodecName != "vp8" || a.CodecName != "opus" || v.Width != 640 || v.Height != 360 {
		t.Errorf("webm recording streams: %+v", p.Streams)
	}
	p = probe(m4a)
	if p.Video() != nil || p.Audio() == nil || p.Audio().CodecName != "aac" {
		t.Errorf("audio-only recording streams: %+v", p.Streams)
	}
	p = probe(mp4)
	if v, a := p.Video(), p.Audio(); v == nil || a == nil || v.CodecName != "h264" || a.CodecName != "aac" || v.Width != 854 || v.Height != 480 || mediatest.Rate(v.RFrameRate) != 30 {
		t.Errorf("mp4 recording streams: %+v", p.Streams)
	}
	// Two participants side by side at 480p: red left, blue right.
	mp4Path := filepath.Join(dir, mp4.File)
	pic := mediatest.FrameAt(t, mp4Path, 3, 854, 480)
	if r, g, b := pic.At(213, 240); !mediatest.Near(r, g, b, 255, 0, 0, 60) {
		t.Errorf("recording left tile %d,%d,%d, want red", r, g, b)
	}
	if r, g, b := pic.At(640, 240); !mediatest.Near(r, g, b, 0, 0, 255, 60) {
		t.Errorf("recording right tile %d,%d,%d, want blue", r, g, b)
	}

	// Delete removes the file and the entry.
	s.expect(t, "DELETE", "/api/recordings/"+m4a.ID, "", 204, "")
	s.expect(t, "GET", "/api/recordings/"+m4a.ID, "", 404, "not found")
	if _, err := os.Stat(filepath.Join(dir, m4a.File)); !os.IsNotExist(err) {
		t.Errorf("deleted recording's file still there: %v", err)
	}

	// A restart keeps the list; a recording the old server never finished
	// (it died) is recovered from its crash-tolerant file.
	crashed := mcu.Recording{ID: "deadbeefdeadbeef", Room: "rec", Name: "crashed", Format: "webm", Quality: "360p", FPS: 15,
		State: mcu.StateRecording, StartedAt: time.Now().Add(-time.Minute), File: "deadbeefdeadbeef.webm", DownloadURL: "/api/recordings/deadbeefdeadbeef/download"}
	if err := os.WriteFile(filepath.Join(dir, crashed.File), partial, 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(crashed)
	if err := os.WriteFile(filepath.Join(dir, "deadbeefdeadbeef.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.close()
	s2 := startAPI(t, dir)
	if err := json.Unmarshal(s2.expect(t, "GET", "/api/recordings", "", 200, ""), &list); err != nil {
		t.Fatal(err)
	}
	ids := map[string]mcu.Recording{}
	for _, r := range list.Recordings {
		ids[r.ID] = r
	}
	if len(ids) != 3 || ids[webm.ID].State != mcu.StateFinished || ids[mp4.ID].State != mcu.StateFinished {
		t.Errorf("after restart: %+v", list.Recordings)
	}
	if r := ids["deadbeefdeadbeef"]; r.State != mcu.StateFinished || r.DurationS <= 0 || !strings.Contains(r.Error, "recovered") {
		t.Errorf("crashed recording after restart: %+v", r)
	}
}

// TestRecordingFollowsRoomLifetime: a recording stops by itself once its room
// has been empty for mcu.EmptyRoomTimeout, and one still running at shutdown
// is finalized into a complete file.
func TestRecordingFollowsRoomLifetime(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	old := mcu.EmptyRoomTimeout
	mcu.EmptyRoomTimeout = 2 * time.Second
	defer func() { mcu.EmptyRoomTimeout = old }()

	dir := t.TempDir()
	s := startAPI(t, dir)
	clients := joinColours(t, s, "empty", color.RGBA{0, 255, 0, 255})
	rec := decodeRec(t, s.expect(t, "POST", "/api/rooms/empty/recordings", `{}`, 201, `"state":"recording"`))
	time.Sleep(time.Second)
	clients[0].Leave()
	left := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := decodeRec(t, s.expect(t, "GET", "/api/recordings/"+rec.ID, "", 200, ""))
		if got.State == mcu.StateFinished {
			if waited := time.Since(left); waited < mcu.EmptyRoomTimeout {
				t.Errorf("recording stopped %v after the room emptied, before the %v grace", waited, mcu.EmptyRoomTimeout)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording still %s 10 s after the room emptied", got.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.expect(t, "GET", "/api/rooms/empty", "", 404, "not found")

	// Shutdown finalizes a running recording: a WebM with its duration in
	// the header (written by the trailer).
	joinColours(t, s, "shutdown", color.RGBA{0, 0, 255, 255})
	rec = decodeRec(t, s.expect(t, "POST", "/api/rooms/shutdown/recordings", `{}`, 201, ""))
	time.Sleep(2 * time.Second)
	s.close()
	p := mediatest.ProbeFile(t, filepath.Join(dir, rec.File), false)
	if d := p.Duration(); d < 1.5 || p.Video() == nil || p.Audio() == nil {
		t.Errorf("recording finalized at shutdown: duration %.2f, streams %+v", d, p.Streams)
	}
	s2 := startAPI(t, dir)
	if got := decodeRec(t, s2.expect(t, "GET", "/api/recordings/"+rec.ID, "", 200, "")); got.State != mcu.StateFinished || got.Error != "" {
		t.Errorf("after shutdown and restart: %+v", got)
	}
}
