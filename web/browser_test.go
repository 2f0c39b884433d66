package web_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/internal/mediatest"
)

// TestBrowser joins three Chromium instances, each with a solid-colour fake
// camera, to one room through the web client, one after another so that
// the tiles are in a known order, and checks that every page's #mixed video
// shows the three colours. It then drives the page's controls (mute, screen
// share, recording in the browser, leave), the operator panel (room output,
// and in the Recording subtest a server recording checked with ffprobe),
// and the messages for denied or missing devices, a full room and a lost
// connection. A screenshot of the first page is kept as an artifact.
func TestBrowser(t *testing.T) {
	needChromium(t)
	started := time.Now()
	since := func() time.Duration { return time.Since(started).Round(time.Millisecond) }
	base := startBrowserServer(t)
	cams := t.TempDir()

	var pages []*page
	shot := false
	defer func() { // on failure, the page as it was then
		if !shot && len(pages) > 0 {
			screenshot(t, pages[0], "browser-room.png")
		}
	}()
	for _, who := range []struct{ name, colour string }{{"red", "0xFF0000"}, {"green", "0x00FF00"}, {"blue", "0x0000FF"}} {
		p := openBrowser(t, who.name, fakeCamera(t, cams, who.name, who.colour))
		url := fmt.Sprintf("%s/?room=T&name=%s&autojoin=1", base, who.name)
		if err := p.run(10*time.Second, chromedp.Navigate(url)); err != nil {
			t.Fatalf("%s: opening %s: %v", who.name, url, err)
		}
		p.waitJS(20*time.Second, "connected", `window.mcu && window.mcu.state === 'connected'`)
		pages = append(pages, p)
		t.Logf("%s: connected after %v", who.name, since())
	}
	red, green, blue := pages[0], pages[1], pages[2]
	for _, p := range pages {
		p.waitFor(15*time.Second, "#mixed with every colour", func() error { return p.checkMixed(640, 360, grid3) })
		p.waitJS(5*time.Second, "three participants listed", `document.querySelectorAll('#participants li').length === 3`)
	}
	t.Logf("every page shows the three colours after %v", since())
	// Chromium offers H.264 and VP8: the room sends it H.264 (its auto
	// codec), which the page decodes into the colours just checked.
	for _, p := range pages {
		var codec string
		err := p.run(5*time.Second, chromedp.Evaluate(`(async () => {
			const stats = await window.mcu.pc.getStats();
			let mime = '';
			stats.forEach(r => {
				if (r.type === 'inbound-rtp' && r.kind === 'video' && r.codecId && stats.get(r.codecId)) mime = stats.get(r.codecId).mimeType;
			});
			return mime;
		})()`, &codec, awaitPromise))
		if err != nil || codec != "video/H264" {
			t.Errorf("%s receives the composite as %q (%v), want video/H264", p.name, codec, err)
		}
	}

	testControls(t, red, green, blue)
	t.Logf("controls and recording in the browser checked after %v", since())
	testNoDevicesAndFullRoom(t, base, green)
	testReconnect(t, red, blue)
	t.Logf("messages and reconnect checked after %v", since())
	testRoomSettings(t, green, red)
	t.Logf("room settings checked after %v", since())

	t.Run("Recording", func(t *testing.T) {
		if !recordingAPI(t, base) {
			t.Skip("the server has no recording API yet (GET /api/recordings is not 200)")
		}
		testPanelRecording(t, red.in(t), blue.in(t))
		t.Logf("recording checked after %v", since())
	})
	screenshot(t, red, "browser-room.png")
	shot = true

	// Green leaves: the grid re-flows to red and blue side by side.
	green.click("#leave")
	green.waitJS(2*time.Second, "left", `window.mcu.state === 'left' && !document.querySelector('#join-panel').hidden`)
	red.waitFor(10*time.Second, "grid without green", func() error {
		return red.checkMixed(640, 360, []tile{{0.25, 0.5, 255, 0, 0, "red tile (left)"}, {0.75, 0.5, 0, 0, 255, "blue tile (right)"}})
	})
	red.waitJS(3*time.Second, "two participants listed", `document.querySelectorAll('#participants li').length === 2`)
}

// grid3 is where the three participants' colours are, in join order, on a
// 2x2 grid.
var grid3 = []tile{
	{0.25, 0.25, 255, 0, 0, "red tile"},
	{0.75, 0.25, 0, 255, 0, "green tile"},
	{0.5, 0.75, 0, 0, 255, "blue tile (last row, centred)"},
}

// testControls has green record the mixed stream in its browser while blue
// turns its camera off and on and shares its screen, as red sees.
func testControls(t *testing.T, red, green, blue *page) {
	green.click("#local-rec-start")

	blue.click("#mute-cam")
	// The page tells the server; blue's tile shows its placeholder at once.
	dark := append(append([]tile(nil), grid3[:2]...), tile{0.5, 0.75, 44, 48, 58, "blue's placeholder with the camera off"})
	red.waitFor(3*time.Second, "blue's placeholder after mute", func() error { return red.checkMixed(640, 360, dark) })
	blue.click("#mute-cam")
	red.waitFor(8*time.Second, "blue tile back after unmute", func() error { return red.checkMixed(640, 360, grid3) })

	blue.click("#share-screen")
	blue.waitJS(5*time.Second, "sharing", `document.querySelector('#share-screen').getAttribute('aria-pressed') === 'true'`)
	// The page says it shares: the room's auto layout turns to presenter,
	// blue's screen large on the left, the cameras in the strip.
	red.waitFor(8*time.Second, "blue's screen large", func() error {
		if red.checkMixed(640, 360, []tile{{0.4, 0.5, 0, 0, 255, "blue camera"}}) == nil {
			return fmt.Errorf("the large tile still shows blue's camera")
		}
		return red.checkMixed(640, 360, []tile{{0.9, 0.375, 255, 0, 0, "red in the strip"}, {0.9, 0.625, 0, 255, 0, "green in the strip"}})
	})
	blue.click("#share-screen")
	red.waitFor(8*time.Second, "blue tile back to the camera", func() error { return red.checkMixed(640, 360, grid3) })

	green.click("#local-rec-stop")
	green.waitJS(5*time.Second, "recording in the browser",
		`!!(window.mcu.localRecording && window.mcu.localRecording.bytes > 10000 &&
		   document.querySelector('#local-rec-download').href.startsWith('blob:') &&
		   !document.querySelector('#local-rec-download').hidden)`)
	green.waitJS(5*time.Second, "recording in the browser replayable", `document.querySelector('#local-rec-video').readyState >= 1`)
	green.click("#local-rec-free")
	green.waitJS(2*time.Second, "recording in the browser freed",
		`window.mcu.localRecording === null && document.querySelector('#local-rec-download').hidden &&
		 !document.querySelector('#local-rec-video').hasAttribute('src')`)
}

// testNoDevicesAndFullRoom opens a second tab in b's browser whose
// getUserMedia fails as its gum parameter says: it joins room U
// receive-only, says why, and still receives the composite. Then it finds
// room T (at most three) full.
func testNoDevicesAndFullRoom(t *testing.T, base string, b *page) {
	tab, closeTab := chromedp.NewContext(b.ctx)
	defer closeTab()
	p := &page{t: t, name: "fourth", ctx: tab}
	if err := chromedp.Run(tab, chromedp.ActionFunc(func(ctx context.Context) error { // opens the tab for good
		_, err := cdppage.AddScriptToEvaluateOnNewDocument(failingGetUserMedia).Do(ctx)
		return err
	})); err != nil {
		t.Fatalf("fourth: %v", err)
	}
	for _, c := range []struct{ err, want string }{
		{"NotAllowedError", "permission was denied"},
		{"NotFoundError", "no camera or microphone found"},
	} {
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=U&name=solo&autojoin=1&gum="+c.err)); err != nil {
			t.Fatalf("fourth: %v", err)
		}
		p.waitJS(20*time.Second, c.err+": joined receive-only with a message", fmt.Sprintf(
			`window.mcu.state === 'connected' && document.querySelector('#status').textContent.includes(%q)`, c.want))
		p.waitJS(10*time.Second, c.err+": receives the composite", `document.querySelector('#mixed').videoWidth === 640`)
	}
	if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=T&name=fourth&autojoin=1")); err != nil {
		t.Fatalf("fourth: %v", err)
	}
	p.waitJS(10*time.Second, "room full message",
		`window.mcu.state === 'idle' && /full/.test(document.querySelector('#status').textContent)`)
}

// failingGetUserMedia makes getUserMedia fail with the DOMException named by
// the page's gum query parameter, as when permission is denied or no device
// exists.
const failingGetUserMedia = `(() => {
	const name = new URLSearchParams(location.search).get('gum');
	if (name) navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('test', name));
})()`

// testReconnect drops last's websocket: the page rejoins by itself as a new
// participant, in the same place since it was the last to join.
func testReconnect(t *testing.T, first, last *page) {
	var oldID string
	last.mustEval(`window.mcu.participantId`, &oldID)
	last.mustEval(`window.mcu.ws.close()`, nil)
	last.waitJS(15*time.Second, "reconnected",
		fmt.Sprintf(`window.mcu.state === 'connected' && window.mcu.participantId !== %q`, oldID))
	first.waitFor(10*time.Second, "three colours after a reconnect", func() error { return first.checkMixed(640, 360, grid3) })
	last.waitFor(10*time.Second, "three colours after its reconnect", func() error { return last.checkMixed(640, 360, grid3) })
}

// testRoomSettings has op switch the room to 480p and back through the panel;
// viewer's picture and panel follow.
func testRoomSettings(t *testing.T, op, viewer *page) {
	op.setValue("#quality", "480p")
	op.click("#apply-settings")
	viewer.waitFor(10*time.Second, "480p after the operator's change", func() error { return viewer.checkMixed(854, 480, grid3) })
	viewer.waitJS(2*time.Second, "settings event shown", `document.querySelector('#quality').value === '480p'`)
	op.setValue("#quality", "360p")
	op.click("#apply-settings")
	viewer.waitFor(10*time.Second, "back to 360p", func() error { return viewer.checkMixed(640, 360, grid3) })
}

// recording is the part of the API's recording object the test reads.
type recording struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Format      string  `json:"format"`
	Quality     string  `json:"quality"`
	DurationS   float64 `json:"duration_s"`
	DownloadURL string  `json:"download_url"`
}

// testPanelRecording has the operator (op) record the room at 720p WebM for
// about 5 s through the panel and download the file through the page; the
// file must be 1280x720 with audio, as long as the time recorded, with the
// three colours in its tiles. other must see the recording in its list.
func testPanelRecording(t *testing.T, op, other *page) {
	op.setValue("#rec-format", "webm")
	op.setValue("#rec-quality", "720p")
	op.setValue("#rec-fps", "15")
	op.setValue("#rec-name", "browser-test")
	var audioOnly bool
	op.mustEval(`document.querySelector('#rec-audio-only').checked`, &audioOnly)
	if audioOnly {
		op.click("#rec-audio-only")
	}

	startClick := time.Now()
	op.click("#rec-start")
	op.waitJS(5*time.Second, "recording started", `!!(window.mcu.lastRecording && window.mcu.lastRecording.state === 'recording')`)
	started := time.Since(startClick)
	var rec recording
	op.mustEval(`window.mcu.lastRecording`, &rec)
	if rec.Format != "webm" || rec.Quality != "720p" {
		t.Errorf("recording started as %s %s, want webm 720p", rec.Format, rec.Quality)
	}
	rowJS := fmt.Sprintf(`!!document.querySelector('#recordings li[data-id=%q][data-state=%%q]')`, rec.ID)
	other.waitJS(5*time.Second, "recording listed on another page", fmt.Sprintf(rowJS, "recording"))

	time.Sleep(time.Until(startClick.Add(started + 5*time.Second)))
	stopClick := time.Now()
	op.click("#rec-stop")
	op.waitJS(10*time.Second, "recording stopped", `window.mcu.lastRecording.state !== 'recording'`)
	stopped := time.Since(stopClick)
	// The time recorded, counting each click as landing halfway to its reply.
	recorded := stopClick.Add(stopped / 2).Sub(startClick.Add(started / 2)).Seconds()
	op.mustEval(`window.mcu.lastRecording`, &rec)
	if rec.State != "finished" {
		t.Fatalf("recording %s ended %q, want finished", rec.ID, rec.State)
	}
	op.waitJS(5*time.Second, "finished recording in the list", fmt.Sprintf(rowJS, "finished"))
	other.waitJS(5*time.Second, "finished recording in another page's list", fmt.Sprintf(rowJS, "finished"))

	path := download(t, op, fmt.Sprintf(`#recordings li[data-id=%q] a.rec-download`, rec.ID))
	p := mediatest.ProbeFile(t, path, true)
	v, a := p.Video(), p.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: want audio and video, ffprobe found %+v", path, p.Streams)
	}
	if v.Width != 1280 || v.Height != 720 {
		t.Errorf("video is %dx%d, want 1280x720", v.Width, v.Height)
	}
	dur := p.Duration()
	if dur == 0 { // a WebM without a duration in its header: count frames
		n, _ := strconv.Atoi(v.NbFrames)
		dur = float64(n) / 15
	}
	t.Logf("recorded %.2f s by the clock; the file lasts %.2f s, the API says %.2f s", recorded, dur, rec.DurationS)
	if math.Abs(dur-recorded) > 1 {
		t.Errorf("file lasts %.2f s, want %.2f s ± 1 s", dur, recorded)
	}
	pic := mediatest.FrameAt(t, path, dur/2, 1280, 720)
	for _, tl := range []tile{
		{320, 180, 255, 0, 0, "red tile"},
		{960, 180, 0, 255, 0, "green tile"},
		{640, 540, 0, 0, 255, "blue tile"},
	} {
		r, g, b := pic.At(int(tl.x), int(tl.y))
		if !mediatest.Near(r, g, b, tl.r, tl.g, tl.b, 60) {
			t.Errorf("file's %s at %.0f s is %d,%d,%d, want about %d,%d,%d", tl.what, dur/2, r, g, b, tl.r, tl.g, tl.b)
		}
	}
	// The row's preview plays the finished file.
	op.waitJS(5*time.Second, "playable preview of the recording", fmt.Sprintf(
		`(() => { const v = document.querySelector('#recordings li[data-id=%q] video');
		          return !!v && v.readyState >= 1 && v.videoWidth === 1280 && Math.abs(v.duration - %f) < 1; })()`, rec.ID, recorded))
}

// download clicks a download link on the page and returns the saved file.
func download(t *testing.T, p *page, link string) string {
	t.Helper()
	dir := t.TempDir()
	var once sync.Once
	done := make(chan string, 1)
	chromedp.ListenTarget(p.ctx, func(ev any) {
		if ev, ok := ev.(*browser.EventDownloadProgress); ok && ev.State == browser.DownloadProgressStateCompleted {
			once.Do(func() { done <- ev.GUID })
		}
	})
	err := p.run(10*time.Second,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(dir).WithEventsEnabled(true),
		chromedp.Click(link, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("%s: downloading through %s: %v", p.name, link, err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	select {
	case guid := <-done:
		return filepath.Join(dir, guid)
	case <-ctx.Done():
		t.Fatalf("%s: download through %s did not complete", p.name, link)
	}
	return ""
}

// screenshot saves the whole page as a PNG artifact.
func screenshot(t *testing.T, p *page, name string) {
	t.Helper()
	var shot []byte
	if err := p.run(10*time.Second, chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Errorf("%s: screenshot: %v", p.name, err)
		return
	}
	path := artifactPath(t, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot of the room page: %s", path)
}
