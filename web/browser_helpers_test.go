package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

const chromiumPath = "/usr/bin/chromium"

// needChromium fails the test on CI and skips it elsewhere when Debian's
// Chromium (or ffmpeg, which makes the fake camera files) is missing.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s not installed: %v", chromiumPath, err)
	}
	mediatest.Need(t, "ffmpeg", "ffprobe")
}

// testServer is a whole MCU serving HTTP on a listener, with the room
// output at 360p15, to spare the CPU that the browsers also need, and rooms
// of at most three.
type testServer struct {
	URL   string
	close func()
}

func newTestServer(ln net.Listener, dir string, log *slog.Logger) (*testServer, error) {
	srv, err := server.New(server.Config{
		Rooms:         mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true, MaxParticipants: 3},
		RecordingsDir: dir,
		Log:           log,
	})
	if err != nil {
		return nil, err
	}
	srv.Serve(ln)
	return &testServer{URL: srv.URL(), close: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}}, nil
}

var shared struct {
	once sync.Once
	srv  *testServer
	dir  string
	err  error
}

// startBrowserServer returns the address of the server that the browser
// tests share (each in rooms of its own), started on first use on
// 127.0.0.1 and closed by TestMain.
func startBrowserServer(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "mcu-browser-"); err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = newTestServer(ln, shared.dir, log)
	})
	if shared.err != nil {
		t.Fatalf("starting the shared test server: %v", shared.err)
	}
	return shared.srv.URL
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeMediaServer()
	if shared.srv != nil {
		shared.srv.close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// logWriter sends a server's log lines to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// fakeCamera writes a 2 s solid-colour Y4M clip that Chromium loops as its camera.
func fakeCamera(t *testing.T, dir, name, colour string) string {
	t.Helper()
	path := filepath.Join(dir, name+".y4m")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c="+colour+":s=320x240:r=15", "-t", "2", "-pix_fmt", "yuv420p", path)
	return path
}

// page is one Chromium instance with one tab.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// openBrowser launches a Chromium of its own (own profile, own fake camera)
// and returns its tab; it is closed when the test ends. extra adds flags
// (a fake microphone file, say).
func openBrowser(t *testing.T, name, camera string, extra ...chromedp.ExecAllocatorOption) *page {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser is gone.
	profile, err := os.MkdirTemp("", "mcu-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", camera),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	p := &page{t: t, name: name, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			t.Logf("%s: page exception: %s", name, ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				t.Logf("%s: console %s: %s", name, ev.Type, strings.Join(parts, " "))
			}
		}
	})
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("%s: starting %s: %v", name, chromiumPath, err)
	}
	return p
}

// in returns the page reporting to the test t (a subtest, say).
func (p *page) in(t *testing.T) *page {
	q := *p
	q.t = t
	return &q
}

// run runs chromedp actions on the tab with a deadline.
func (p *page) run(d time.Duration, actions ...chromedp.Action) error {
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, actions...)
}

// eval evaluates a JS expression into out.
func (p *page) eval(js string, out any) error {
	return p.run(5*time.Second, chromedp.Evaluate(js, out))
}

// mustEval evaluates js into out or fails the test.
func (p *page) mustEval(js string, out any) {
	p.t.Helper()
	if err := p.eval(js, out); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, js, err)
	}
}

// click clicks the element matched by a CSS selector.
func (p *page) click(sel string) {
	p.t.Helper()
	if err := p.run(5*time.Second, chromedp.Click(sel, chromedp.ByQuery)); err != nil {
		p.t.Fatalf("%s: clicking %s: %v", p.name, sel, err)
	}
}

// setValue sets a form control and fires its change event.
func (p *page) setValue(sel, value string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('change')); return e.value; })()`, sel, value)
	var got string
	p.mustEval(js, &got)
	if got != value {
		p.t.Fatalf("%s: %s has no option %q", p.name, sel, value)
	}
}

// status is the page's state and message line, for failure messages.
func (p *page) status() string {
	var s string
	_ = p.eval(`(window.mcu ? window.mcu.state : 'no window.mcu') + ': ' + document.querySelector('#status').textContent`, &s)
	return s
}

// waitFor polls check every 100 ms until it returns nil or d passes.
func (p *page) waitFor(d time.Duration, what string, check func() error) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s after %v: %v (page: %s)", p.name, what, d, err, p.status())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitJS waits until a JS expression is true.
func (p *page) waitJS(d time.Duration, what, js string) {
	p.t.Helper()
	p.waitFor(d, what, func() error {
		var ok bool
		if err := p.eval(js, &ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s is false", js)
		}
		return nil
	})
}

// frame is what the page's #mixed video shows, sampled through a canvas.
type frame struct {
	W, H   int
	Paused bool
	Pixels [][3]int
}

// sampleMixed draws #mixed at its own size on a canvas and reads the
// pixels at the given fractions of its width and height.
func (p *page) sampleMixed(points [][2]float64) (frame, error) {
	pts, _ := json.Marshal(points)
	js := `(() => {
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
	var f frame
	err := p.eval(js, &f)
	return f, err
}

// tile is an expected colour at a fraction of the picture.
type tile struct {
	x, y    float64
	r, g, b int
	what    string
}

// checkMixed compares #mixed with the expected size and tile colours.
func (p *page) checkMixed(w, h int, tiles []tile) error {
	pts := make([][2]float64, len(tiles))
	for i, tl := range tiles {
		pts[i] = [2]float64{tl.x, tl.y}
	}
	f, err := p.sampleMixed(pts)
	if err != nil {
		return err
	}
	if f.W != w || f.H != h {
		return fmt.Errorf("#mixed is %dx%d, want %dx%d", f.W, f.H, w, h)
	}
	if f.Paused {
		return fmt.Errorf("#mixed is paused")
	}
	for i, tl := range tiles {
		c := f.Pixels[i]
		if !mediatest.Near(c[0], c[1], c[2], tl.r, tl.g, tl.b, 60) {
			return fmt.Errorf("%s is %v, want about %d,%d,%d", tl.what, c, tl.r, tl.g, tl.b)
		}
	}
	return nil
}

// artifactPath is where a test keeps a file for people to look at.
func artifactPath(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("MCU_ARTIFACTS")
	if dir == "" {
		return filepath.Join(t.TempDir(), name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// recordingAPI tells whether the server has the recording API.
func recordingAPI(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Get(base + "/api/recordings")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
