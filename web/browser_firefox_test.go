package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/internal/marionette"
	"github.com/mcu-dev/mcu/internal/mediatest"
)

const firefoxPath = "/usr/bin/firefox-esr"

// needFirefox fails the test on CI and skips it elsewhere when Debian's
// Firefox ESR is missing.
func needFirefox(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(firefoxPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required (apt-get install firefox-esr): %v", firefoxPath, err)
		}
		t.Skipf("%s not installed: %v", firefoxPath, err)
	}
}

// firefox is a Firefox tab driven over Marionette.
type firefox struct {
	t *testing.T
	b *marionette.Browser
}

func (f *firefox) eval(js string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return f.b.Eval(ctx, "return "+js+";", out)
}

func (f *firefox) waitJS(d time.Duration, what, js string) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var ok bool
		err := f.eval(js, &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var status string
			_ = f.eval(`(window.mcu ? window.mcu.state : 'no window.mcu') + ': ' + document.querySelector('#status').textContent`, &status)
			f.t.Fatalf("firefox: %s after %v: %s is %v, %v (page: %s)", what, d, js, ok, err, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleJS reads #mixed's pixels at fractions of its size, as sampleMixed.
func sampleJS(points [][2]float64) string {
	pts, _ := json.Marshal(points)
	return `(() => {
		const v = document.querySelector('#mixed');
		if (!v || !v.videoWidth) return {W: 0, H: 0, Paused: true, Pixels: []};
		const c = document.createElement('canvas');
		c.width = v.videoWidth; c.height = v.videoHeight;
		const g = c.getContext('2d', {willReadFrequently: true});
		g.drawImage(v, 0, 0, c.width, c.height);
		const px = ` + string(pts) + `.map(([x, y]) =>
			Array.from(g.getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data.slice(0, 3)));
		return {W: c.width, H: c.height, Paused: v.paused, Pixels: px};
	})()`
}

// TestBrowserFirefox joins Firefox ESR to a room beside two Chromium
// participants (red and blue cameras): Firefox must receive every tile,
// its own included, and both Chromium pages must see its picture in the
// third place; then it records the room in the browser with MediaRecorder.
func TestBrowserFirefox(t *testing.T) {
	needChromium(t)
	needFirefox(t)
	base := startBrowserServer(t)
	cams := t.TempDir()
	var pages []*page
	for _, who := range []struct{ name, colour string }{{"red", "0xFF0000"}, {"blue", "0x0000FF"}} {
		p := openBrowser(t, who.name, fakeCamera(t, cams, who.name, who.colour))
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=F&autojoin=1&name="+who.name)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(20*time.Second, "connected", `window.mcu.state === 'connected'`)
		pages = append(pages, p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log *os.File
	if testing.Verbose() {
		log = os.Stderr
	}
	// Not t.TempDir: content processes may outlive the browser a moment.
	profile, err := os.MkdirTemp("", "mcu-firefox-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := marionette.Launch(ctx, firefoxPath, profile, 1280, 900, nil, log)
	if err != nil {
		os.RemoveAll(profile)
		t.Fatal(err)
	}
	defer func() {
		b.Close()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	ff := &firefox{t: t, b: b}
	var version string
	if err := ff.eval(`navigator.userAgent`, &version); err == nil {
		t.Logf("firefox: %s", version)
	}
	if err := b.Navigate(ctx, base+"/?room=F&autojoin=1&lang=en&name=firefox"); err != nil {
		t.Fatal(err)
	}
	ff.waitJS(20*time.Second, "connected", `window.mcu.state === 'connected'`)
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		png, err := b.Screenshot(sctx)
		if err != nil {
			t.Errorf("firefox screenshot: %v", err)
			return
		}
		path := artifactPath(t, "firefox-room.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot: %s", path)
	}()

	// Firefox draws its fake camera itself (plain green in ESR 153, but
	// that is not a promise): its tile must differ from the other two, from
	// the placeholder of a participant without a picture and from the empty
	// fourth place.
	points := [][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}}
	judge := func(f frame) error {
		if f.W != 640 || f.H != 360 {
			return fmt.Errorf("#mixed is %dx%d, want 640x360", f.W, f.H)
		}
		if f.Paused {
			return fmt.Errorf("#mixed is paused")
		}
		if c := f.Pixels[0]; !mediatest.Near(c[0], c[1], c[2], 255, 0, 0, 60) {
			return fmt.Errorf("red tile is %v", c)
		}
		if c := f.Pixels[1]; !mediatest.Near(c[0], c[1], c[2], 0, 0, 255, 60) {
			return fmt.Errorf("blue tile is %v", c)
		}
		fx, empty := f.Pixels[2], f.Pixels[3]
		for _, c := range [][3]int{{255, 0, 0}, {0, 0, 255}, {44, 48, 58}, empty} {
			if mediatest.Near(fx[0], fx[1], fx[2], c[0], c[1], c[2], 40) {
				return fmt.Errorf("firefox's tile is %v, like %v (another tile, the placeholder or the empty place)", fx, c)
			}
		}
		return nil
	}
	waitFrame := func(what string, sample func() (frame, error)) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			f, err := sample()
			if err == nil {
				if err = judge(f); err == nil {
					t.Logf("%s: tiles %v", what, f.Pixels)
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: every tile after 15 s: %v", what, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFrame("firefox", func() (frame, error) {
		var f frame
		err := ff.eval(sampleJS(points), &f)
		return f, err
	})
	for _, p := range pages {
		waitFrame(p.name, func() (frame, error) { return p.sampleMixed(points) })
	}

	// Recording in Firefox's browser.
	ff.waitJS(2*time.Second, "record button", `!document.querySelector('#local-rec-start').disabled`)
	if err := ff.eval(`document.querySelector('#local-rec-start').click(), true`, nil); err != nil {
		t.Fatal(err)
	}
	ff.waitJS(5*time.Second, "recording in memory", `/\d/.test(document.querySelector('#local-rec-info').textContent)`)
	time.Sleep(2 * time.Second) // two more seconds of the room
	if err := ff.eval(`document.querySelector('#local-rec-stop').click(), true`, nil); err != nil {
		t.Fatal(err)
	}
	ff.waitJS(5*time.Second, "recording in Firefox",
		`!!(window.mcu.localRecording && window.mcu.localRecording.bytes > 10000 &&
		   document.querySelector('#local-rec-download').href.startsWith('blob:'))`)
	ff.waitJS(5*time.Second, "Firefox replays its recording", `document.querySelector('#local-rec-video').readyState >= 1 &&
		document.querySelector('#local-rec-video').videoWidth === 640`)
}
