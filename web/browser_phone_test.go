package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/chromedp/chromedp/kb"
)

// phone is a mid-size phone held upright; phoneLandscape the same on its side.
var (
	phone = device.Info{Name: "phone", Width: 390, Height: 844, Scale: 3, Mobile: true, Touch: true,
		UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"}
	phoneLandscape = device.Info{Name: "phone landscape", Width: 844, Height: 390, Scale: 3, Mobile: true, Touch: true, Landscape: true,
		UserAgent: phone.UserAgent}
)

// testToken mints a LiveKit-style access token signed with a dummy secret:
// the page only decodes it, and the test server does not check it.
func testToken(claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(claims)
	msg := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc(body)
	mac := hmac.New(sha256.New, []byte("dummy-secret-for-tests"))
	mac.Write([]byte(msg))
	return msg + "." + enc(mac.Sum(nil))
}

// participantToken may join room and nothing more.
func participantToken(room, name string, ttl time.Duration) string {
	now := time.Now()
	return testToken(map[string]any{
		"iss": "devkey", "sub": name, "name": name, "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"video": map[string]any{"room": room, "roomJoin": true},
	})
}

// geometry is where the page put things, in CSS pixels of the viewport.
type geometry struct {
	VW, VH           float64
	ScrollW, ScrollH float64
	Pic              rect // the room's picture inside #mixed (object-fit: contain)
	Pip              *rect
	Buttons          []rect
	OperatorButton   bool
	OperatorPanel    bool
	Side             bool
}

type rect struct {
	ID         string
	X, Y, W, H float64
}

func (r rect) String() string {
	return fmt.Sprintf("%s %.0fx%.0f at (%.0f,%.0f)", r.ID, r.W, r.H, r.X, r.Y)
}

const geometryJS = `(() => {
	const r = (el) => { const b = el.getBoundingClientRect(); return {ID: el.id, X: b.left, Y: b.top, W: b.width, H: b.height}; };
	const shown = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
	const v = document.querySelector('#mixed');
	const box = r(v);
	const s = v.videoWidth ? Math.min(box.W / v.videoWidth, box.H / v.videoHeight) : 0;
	const pic = {ID: 'picture', W: v.videoWidth * s, H: v.videoHeight * s};
	pic.X = box.X + (box.W - pic.W) / 2;
	pic.Y = box.Y + (box.H - pic.H) / 2;
	const pip = document.querySelector('#pip');
	return {
		VW: innerWidth, VH: innerHeight,
		ScrollW: document.documentElement.scrollWidth, ScrollH: document.documentElement.scrollHeight,
		Pic: pic, Pip: shown(pip) ? r(pip) : null,
		Buttons: [...document.querySelectorAll('#controls button')].filter(shown).map(r),
		OperatorButton: shown(document.querySelector('#show-operator')),
		OperatorPanel: shown(document.querySelector('#op-section')),
		Side: shown(document.querySelector('#side')),
	};
})()`

func (p *page) geometry() geometry {
	p.t.Helper()
	var g geometry
	p.mustEval(geometryJS, &g)
	return g
}

// checkRoomLayout asserts what a phone must show: the picture at least
// minShare of the viewport's width (portrait) or height (landscape), whole
// and not under the controls; the self-view at most 30% of the width; every
// control inside the viewport; nothing to scroll; no operator controls.
func checkRoomLayout(t *testing.T, g geometry, landscape bool) {
	t.Helper()
	if landscape {
		if g.Pic.H < 0.8*g.VH {
			t.Errorf("landscape: the picture is %.0f px high, want at least 80%% of %.0f", g.Pic.H, g.VH)
		}
	} else if g.Pic.W < 0.9*g.VW {
		t.Errorf("portrait: the picture is %.0f px wide, want at least 90%% of %.0f", g.Pic.W, g.VW)
	}
	const eps = 0.5
	if g.Pic.X < -eps || g.Pic.Y < -eps || g.Pic.X+g.Pic.W > g.VW+eps || g.Pic.Y+g.Pic.H > g.VH+eps {
		t.Errorf("the picture %v is not wholly inside the %.0fx%.0f viewport", g.Pic, g.VW, g.VH)
	}
	if g.Pip == nil {
		t.Errorf("no self-view shown")
	} else if g.Pip.W > 0.3*g.VW {
		t.Errorf("the self-view is %.0f px wide, want at most 30%% of %.0f", g.Pip.W, g.VW)
	}
	if len(g.Buttons) < 4 {
		t.Errorf("only %d controls shown: %v", len(g.Buttons), g.Buttons)
	}
	for _, b := range g.Buttons {
		if b.X < -eps || b.Y < -eps || b.X+b.W > g.VW+eps || b.Y+b.H > g.VH+eps {
			t.Errorf("control %v is not wholly inside the %.0fx%.0f viewport", b, g.VW, g.VH)
		}
		if b.W < 40 || b.H < 40 {
			t.Errorf("control %v is smaller than a fingertip (40x40)", b)
		}
		if overlap(b, g.Pic) {
			t.Errorf("control %v covers the picture %v", b, g.Pic)
		}
	}
	if g.ScrollW > g.VW+eps || g.ScrollH > g.VH+eps {
		t.Errorf("the page scrolls: %.0fx%.0f in a %.0fx%.0f viewport", g.ScrollW, g.ScrollH, g.VW, g.VH)
	}
	if g.OperatorButton || g.OperatorPanel {
		t.Errorf("a participant without operator rights sees the operator controls (button %v, panel %v)", g.OperatorButton, g.OperatorPanel)
	}
}

func overlap(a, b rect) bool {
	return a.X < b.X+b.W-1 && b.X < a.X+a.W-1 && a.Y < b.Y+b.H-1 && b.Y < a.Y+a.H-1
}

// emulate switches the tab to a device's viewport, orientation and touch.
func (p *page) emulate(d device.Info) {
	p.t.Helper()
	if err := p.run(5*time.Second, chromedp.Emulate(d)); err != nil {
		p.t.Fatalf("%s: emulating %s: %v", p.name, d.Name, err)
	}
}

// viewportShot keeps what the viewport shows as an artifact.
func viewportShot(t *testing.T, p *page, name string) {
	t.Helper()
	var shot []byte
	if err := p.run(10*time.Second, chromedp.CaptureScreenshot(&shot)); err != nil {
		t.Errorf("%s: screenshot: %v", p.name, err)
		return
	}
	path := artifactPath(t, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// tap sends a touch tap at the centre of the element matched by sel.
func (p *page) tap(sel string) {
	p.t.Helper()
	var box rect
	p.mustEval(fmt.Sprintf(`(() => { const b = document.querySelector(%q).getBoundingClientRect(); return {X: b.left, Y: b.top, W: b.width, H: b.height}; })()`, sel), &box)
	pt := []*input.TouchPoint{{X: box.X + box.W/2, Y: box.Y + box.H/2}}
	err := p.run(5*time.Second,
		input.DispatchTouchEvent(input.TouchStart, pt),
		input.DispatchTouchEvent(input.TouchEnd, []*input.TouchPoint{}))
	if err != nil {
		p.t.Fatalf("%s: tapping %s: %v", p.name, sel, err)
	}
}

// TestBrowserPhone opens the client in Chromium emulating a phone, upright
// and then on its side, as a participant whose token gives no operator
// rights, and checks from the page's geometry that the room's picture takes
// the screen, the self-view stays small, the controls are in reach without
// scrolling and the operator controls are not shown. It then drives the
// phone's own controls (side panel, self-view, full screen by button and by
// double tap), restarts ICE as a network change would (the participant
// keeps its place), and joins "audio only" and "watch only". Screenshots of
// both orientations and of a 320 px wide phone are kept as artifacts.
func TestBrowserPhone(t *testing.T) {
	needChromium(t)
	base := startBrowserServer(t)
	p := openBrowser(t, "phone", fakeCamera(t, t.TempDir(), "phone", "0xFF0000"))
	if err := p.run(5*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := cdppage.AddScriptToEvaluateOnNewDocument(recordCalls).Do(ctx)
		return err
	})); err != nil {
		t.Fatal(err)
	}
	p.emulate(phone)

	// The name comes from the token (Cyrillic, to check its decoding).
	tok := participantToken("P", "Аня", time.Hour)
	if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=P&lang=en&autojoin=1&token="+url.QueryEscape(tok))); err != nil {
		t.Fatal(err)
	}
	p.waitJS(20*time.Second, "connected", `window.mcu.state === 'connected'`)
	p.waitFor(10*time.Second, "the room's picture", func() error {
		return p.checkMixed(640, 360, []tile{{0.5, 0.5, 255, 0, 0, "own red tile"}})
	})
	var joinMsg struct {
		Name        string `json:"name"`
		ReceiveOnly bool   `json:"receive_only"`
	}
	p.mustEval(`JSON.parse(window.__sent.find((m) => JSON.parse(m).type === 'join'))`, &joinMsg)
	if joinMsg.Name != "Аня" || joinMsg.ReceiveOnly {
		t.Errorf("join message %+v, want the token's name Аня and no receive_only", joinMsg)
	}
	var href string
	p.mustEval(`location.href`, &href)
	if strings.Contains(href, "token=") {
		t.Errorf("the token stays in the address bar: %s", href)
	}

	t.Run("Portrait", func(t *testing.T) {
		p := p.in(t)
		g := p.geometry()
		viewportShot(t, p, "phone-portrait.png")
		checkRoomLayout(t, g, false)
		t.Logf("portrait %.0fx%.0f: picture %v, self-view %v", g.VW, g.VH, g.Pic, g.Pip)
		if g.Side {
			t.Errorf("the side panel is open at the start on a phone")
		}

		// The side panel slides over the room, which stays where it was.
		p.click("#show-people")
		p.waitJS(2*time.Second, "side panel open", `!document.querySelector('#side').hidden && document.activeElement.closest('#side') !== null`)
		p.waitJS(2*time.Second, "this participant listed", `/Аня/.test(document.querySelector('#participants').textContent)`)
		if g2 := p.geometry(); g2.Pic != g.Pic || g2.ScrollH > g2.VH {
			t.Errorf("opening the side panel moved the room: picture %v, then %v (page %.0f high)", g.Pic, g2.Pic, g2.ScrollH)
		}
		if err := p.run(2*time.Second, chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(2*time.Second, "side panel closed by Escape, focus back on its button",
			`document.querySelector('#side').hidden && document.activeElement.id === 'show-people'`)

		// The self-view: to the next corner, hidden, shown.
		p.click("#pip-move")
		p.waitJS(2*time.Second, "self-view in the bottom left corner",
			`document.querySelector('#pip').getBoundingClientRect().left < innerWidth / 2`)
		p.click("#pip-hide")
		p.waitJS(2*time.Second, "self-view hidden", `document.querySelector('#pip').hidden && !document.querySelector('#pip-show').hidden`)
		p.click("#pip-show")
		p.waitJS(2*time.Second, "self-view back", `!document.querySelector('#pip').hidden`)

		// Full screen by the button, then out by a double tap.
		p.click("#fullscreen")
		p.waitJS(3*time.Second, "full screen", `document.fullscreenElement && document.fullscreenElement.id === 'stage'`)
		p.tap("#mixed")
		p.tap("#mixed")
		p.waitJS(3*time.Second, "out of full screen by a double tap", `!document.fullscreenElement`)
		// and it stays out (a dblclick after the taps must not toggle again)
		if err := p.run(5*time.Second, chromedp.Sleep(700*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(time.Second, "still out of full screen", `!document.fullscreenElement`)
	})

	t.Run("Landscape", func(t *testing.T) {
		p := p.in(t)
		p.emulate(phoneLandscape)
		p.waitJS(3*time.Second, "landscape layout", `innerWidth === 844 && innerHeight === 390`)
		var g geometry
		p.waitFor(3*time.Second, "the picture to fill the height", func() error {
			g = p.geometry()
			if g.Pic.H < 0.8*g.VH {
				return fmt.Errorf("picture %v", g.Pic)
			}
			return nil
		})
		viewportShot(t, p, "phone-landscape.png")
		checkRoomLayout(t, g, true)
		t.Logf("landscape %.0fx%.0f: picture %v, self-view %v", g.VW, g.VH, g.Pic, g.Pip)
		p.emulate(phone)
		p.waitJS(3*time.Second, "portrait again", `innerWidth === 390`)
	})

	t.Run("Small", func(t *testing.T) {
		p := p.in(t)
		small := phone
		small.Name, small.Width, small.Height = "small phone", 320, 568
		p.emulate(small)
		p.waitJS(3*time.Second, "320 px wide", `innerWidth === 320`)
		g := p.geometry()
		viewportShot(t, p, "phone-320.png")
		checkRoomLayout(t, g, false)
		p.emulate(phone)
		p.waitJS(3*time.Second, "390 px again", `innerWidth === 390`)
	})

	t.Run("ICERestart", func(t *testing.T) {
		p := p.in(t)
		var before struct {
			ID, Local, Remote string
		}
		const ufrags = `({ID: window.mcu.participantId,
			Local: window.mcu.pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1],
			Remote: window.mcu.pc.remoteDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]})`
		p.mustEval(ufrags, &before)
		p.mustEval(`window.mcu.restartIce(), true`, nil)
		p.waitJS(5*time.Second, "connected again after the ICE restart",
			`window.mcu.iceRestarts === 1 && window.mcu.state === 'connected' && window.mcu.pc.signalingState === 'stable'`)
		after := before
		p.mustEval(ufrags, &after)
		if after.ID != before.ID {
			t.Errorf("the participant rejoined as %s (was %s)", after.ID, before.ID)
		}
		if after.Local == before.Local || after.Remote == before.Remote {
			t.Errorf("ICE credentials unchanged: local %s -> %s, server %s -> %s", before.Local, after.Local, before.Remote, after.Remote)
		}
		var sent int
		p.mustEval(`window.__sent.filter((m) => JSON.parse(m).type === 'join').length`, &sent)
		if sent != 1 {
			t.Errorf("%d join messages sent, want 1 (no rejoin)", sent)
		}
		var t0 float64
		p.mustEval(`document.querySelector('#mixed').currentTime`, &t0)
		p.waitJS(5*time.Second, "the picture still plays",
			fmt.Sprintf(`document.querySelector('#mixed').currentTime > %f + 0.5`, t0))
		p.waitFor(5*time.Second, "the red tile after the restart", func() error {
			return p.checkMixed(640, 360, []tile{{0.5, 0.5, 255, 0, 0, "own red tile"}})
		})
		checkRoomMembers(t, base, "P", []string{before.ID})

		// The page restarts by itself when the connection reports failed
		// (faked here for one event: Chromium's own path still works).
		p.mustEval(`(() => {
			const pc = window.mcu.pc;
			Object.defineProperty(pc, 'connectionState', {get: () => 'failed', configurable: true});
			pc.dispatchEvent(new Event('connectionstatechange'));
			delete pc.connectionState;
			return true;
		})()`, nil)
		p.waitJS(5*time.Second, "connected again after a restart on 'failed'",
			`window.mcu.iceRestarts === 2 && window.mcu.state === 'connected' && window.mcu.pc.signalingState === 'stable'`)
		var id string
		p.mustEval(`window.mcu.participantId`, &id)
		if id != before.ID {
			t.Errorf("the participant rejoined as %s (was %s)", id, before.ID)
		}
	})

	t.Run("ConnectionIndicator", func(t *testing.T) {
		p := p.in(t)
		p.waitJS(6*time.Second, "connection figures from getStats",
			`!!(window.mcu.stats && window.mcu.stats.kbps > 0 && window.mcu.stats.rttMs !== null && window.mcu.stats.level === 'good')`)
		p.waitJS(2*time.Second, "indicator shown and labelled",
			`document.querySelector('#net').dataset.level === 'good' && document.querySelector('#net').getAttribute('aria-label') === 'Connection: good'`)
	})

	t.Run("KeyboardAndLabels", func(t *testing.T) {
		p := p.in(t)
		var unnamed []string
		p.mustEval(unnamedControlsJS, &unnamed)
		if len(unnamed) > 0 {
			t.Errorf("controls without a name for screen readers: %v", unnamed)
		}
		var lowContrast []string
		p.mustEval(lowContrastJS, &lowContrast)
		if len(lowContrast) > 0 {
			t.Errorf("text below 4.5:1 contrast: %v", lowContrast)
		}
		// The skip link (the first stop of the page), Enter, Tab to the
		// first control, which shows its focus ring, and Space presses it.
		p.mustEval(`document.querySelector('.skip').focus(), true`, nil)
		p.waitJS(time.Second, "skip link focused and shown",
			`document.activeElement.classList.contains('skip') && document.activeElement.getBoundingClientRect().left >= 0`)
		if err := p.run(3*time.Second, chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(time.Second, "microphone button focused with a visible ring",
			`document.activeElement.id === 'mute-mic' && document.activeElement.matches(':focus-visible') &&
			 getComputedStyle(document.activeElement).outlineStyle === 'solid' && parseFloat(getComputedStyle(document.activeElement).outlineWidth) >= 2`)
		if err := p.run(3*time.Second, chromedp.KeyEvent(" ")); err != nil {
			t.Fatal(err)
		}
		p.waitJS(time.Second, "microphone muted by the keyboard",
			`document.querySelector('#mute-mic').getAttribute('aria-pressed') === 'true' && !window.mcu.pc.getSenders().find((s) => s.track && s.track.kind === 'audio').track.enabled`)
		if err := p.run(3*time.Second, chromedp.KeyEvent(" ")); err != nil {
			t.Fatal(err)
		}
		p.waitJS(time.Second, "microphone back", `document.querySelector('#mute-mic').getAttribute('aria-pressed') === 'false'`)
		// Headless Chromium grants the screen wake lock on 127.0.0.1.
		p.waitJS(time.Second, "screen kept awake during the call", `window.mcu.wakeLock === true`)
	})

	t.Run("AudioOnly", func(t *testing.T) {
		p := p.in(t)
		p.click("#leave")
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=P&name=ears&mode=audio&autojoin=1&lang=en")); err != nil {
			t.Fatal(err)
		}
		p.waitJS(20*time.Second, "connected audio only", `window.mcu.state === 'connected'`)
		var got struct {
			Transceivers []string
			GumVideo     bool
			Received     []string
			CamShown     bool
		}
		p.waitFor(5*time.Second, "the room's sound", func() error {
			p.mustEval(`({
				Transceivers: window.mcu.pc.getTransceivers().map((t) => t.receiver.track.kind + ':' + t.currentDirection),
				GumVideo: window.__gum.some((c) => !!c.video),
				Received: (document.querySelector('#mixed').srcObject || new MediaStream()).getTracks().map((t) => t.kind),
				CamShown: !document.querySelector('#mute-cam').hidden,
			})`, &got)
			if len(got.Received) == 0 {
				return fmt.Errorf("nothing received")
			}
			return nil
		})
		if strings.Join(got.Transceivers, ",") != "audio:sendrecv" || got.GumVideo || strings.Join(got.Received, ",") != "audio" || got.CamShown {
			t.Errorf("audio only: transceivers %v, camera asked %v, received %v, camera button %v; want one audio sendrecv transceiver, no camera, audio alone, no camera button",
				got.Transceivers, got.GumVideo, got.Received, got.CamShown)
		}
	})

	t.Run("WatchOnly", func(t *testing.T) {
		p := p.in(t)
		p.click("#leave")
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=P&name=eyes&mode=watch&autojoin=1&lang=en")); err != nil {
			t.Fatal(err)
		}
		p.waitJS(20*time.Second, "connected watch only", `window.mcu.state === 'connected'`)
		p.waitJS(10*time.Second, "the room's picture", `document.querySelector('#mixed').videoWidth === 640`)
		var got struct {
			Transceivers []string
			Gum          int
			Join         map[string]any
			Controls     []string
		}
		p.mustEval(`({
			Transceivers: window.mcu.pc.getTransceivers().map((t) => t.receiver.track.kind + ':' + t.currentDirection),
			Gum: window.__gum.length,
			Join: JSON.parse(window.__sent.find((m) => JSON.parse(m).type === 'join')),
			Controls: [...document.querySelectorAll('#controls button')].filter((b) => !b.hidden).map((b) => b.id),
		})`, &got)
		if strings.Join(got.Transceivers, ",") != "video:recvonly,audio:recvonly" || got.Gum != 0 || got.Join["receive_only"] != true {
			t.Errorf("watch only: transceivers %v, getUserMedia calls %d, join %v; want recvonly video and audio, no getUserMedia, receive_only true",
				got.Transceivers, got.Gum, got.Join)
		}
		for _, id := range got.Controls {
			if id == "mute-mic" || id == "mute-cam" || id == "share-screen" {
				t.Errorf("watch only shows the %s control", id)
			}
		}
		// The server gives a receive-only participant no tile.
		var id string
		p.mustEval(`window.mcu.participantId`, &id)
		info := roomInfo(t, base, "P")
		for _, tl := range info.Layout {
			if tl.ParticipantID == id {
				t.Errorf("the watch-only participant %s has a tile: %+v", id, info.Layout)
			}
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		p := p.in(t)
		p.click("#leave")
		for _, c := range []struct {
			what           string
			grant          map[string]any
			output, record bool
		}{
			{"participant", map[string]any{"room": "P", "roomJoin": true}, false, false},
			{"recorder", map[string]any{"room": "P", "roomJoin": true, "roomRecord": true}, false, true},
			{"admin", map[string]any{"room": "P", "roomJoin": true, "roomAdmin": true}, true, true},
		} {
			tok := testToken(map[string]any{"sub": c.what, "exp": time.Now().Add(time.Hour).Unix(), "video": c.grant})
			if err := p.run(10*time.Second, chromedp.Navigate(base+"/?name=x&lang=en&token="+tok)); err != nil {
				t.Fatal(err)
			}
			var got struct{ Button, Output, Record bool }
			p.mustEval(`({Button: !document.querySelector('#show-operator').hidden,
				Output: !document.querySelector('#op-output').hidden, Record: !document.querySelector('#op-recording').hidden})`, &got)
			if got.Button != c.record || got.Output != c.output || got.Record != c.record {
				t.Errorf("%s token: operator button %v, output settings %v, recording %v; want %v, %v, %v",
					c.what, got.Button, got.Output, got.Record, c.record, c.output, c.record)
			}
		}
		// An expired token: a plain message, and no attempt to join.
		tok := participantToken("P", "late", -time.Minute)
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?autojoin=1&lang=en&token="+tok)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(3*time.Second, "expired token message",
			`window.mcu.state === 'idle' && /access token has expired/.test(document.querySelector('#status').textContent)`)
		p.mustEval(`window.mcu.setLanguage('zh'), true`, nil)
		viewportShot(t, p, "phone-join-zh.png")
		p.mustEval(`window.mcu.setLanguage('en'), true`, nil)

		// A token that may not publish makes a viewer.
		tok = testToken(map[string]any{"sub": "viewer", "exp": time.Now().Add(time.Hour).Unix(),
			"video": map[string]any{"room": "P", "roomJoin": true, "canPublish": false}})
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?lang=en&token="+tok)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(2*time.Second, "watch only chosen and the others disabled",
			`document.querySelector('input[name="mode"]:checked').value === 'watch' &&
			 document.querySelector('input[name="mode"][value="full"]').disabled && window.mcu.mode === 'watch' &&
			 document.querySelector('#name').value === 'viewer'`)

		// The server refuses the token in the room (this test server does
		// not check tokens: the page is handed the error it would send).
		tok = participantToken("P", "refused", time.Hour)
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?autojoin=1&lang=en&token="+tok)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(20*time.Second, "connected", `window.mcu.state === 'connected'`)
		p.mustEval(`window.mcu.ws.dispatchEvent(new MessageEvent('message', {data: JSON.stringify(
			{type: 'error', code: 'forbidden', message: 'token: no roomJoin grant for room P'})})), true`, nil)
		p.waitJS(3*time.Second, "forbidden message, back at the join form",
			`window.mcu.state === 'idle' && !document.querySelector('#join-panel').hidden &&
			 /Could not join: your access token does not allow this/.test(document.querySelector('#status').textContent)`)
		if err := p.run(5*time.Second, chromedp.Sleep(time.Second)); err != nil {
			t.Fatal(err)
		}
		p.waitJS(time.Second, "no retry with a refused token", `window.mcu.state === 'idle' && !window.mcu.ws`)

		// A reload keeps the tab's token, which the address no longer shows.
		tok = testToken(map[string]any{"sub": "op", "exp": time.Now().Add(time.Hour).Unix(),
			"video": map[string]any{"room": "P", "roomJoin": true, "roomAdmin": true}})
		if err := p.run(10*time.Second, chromedp.Navigate(base+"/?lang=en&token="+tok), chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		p.waitJS(3*time.Second, "the token after a reload",
			`!location.search.includes('token') && !document.querySelector('#show-operator').hidden && document.querySelector('#name').value === 'op'`)
	})
}

// recordCalls makes the page keep what it sends on websockets
// (window.__sent) and the constraints it asks getUserMedia for
// (window.__gum).
const recordCalls = `(() => {
	window.__sent = [];
	window.__gum = [];
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (data) { window.__sent.push(String(data)); return send.call(this, data); };
	if (navigator.mediaDevices) {
		const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
		navigator.mediaDevices.getUserMedia = (c) => { window.__gum.push(c); return gum(c); };
	}
})()`

// checkRoomMembers asserts, through the API, who is in a room.
func checkRoomMembers(t *testing.T, base, room string, want []string) {
	t.Helper()
	resp, err := http.Get(base + "/api/rooms/" + room)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Participants []struct {
			ID string `json:"id"`
		} `json:"participants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatalf("GET /api/rooms/%s: %d %v", room, resp.StatusCode, err)
	}
	var ids []string
	for _, p := range info.Participants {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("room %s has %v, want %v", room, ids, want)
	}
}

// unnamedControlsJS lists the shown buttons, links and form fields that a
// screen reader could not name.
const unnamedControlsJS = `(() => {
	const out = [];
	for (const el of document.querySelectorAll('button, a[href], input, select, textarea, video')) {
		if (!el.getClientRects().length) continue;
		const name = (el.getAttribute('aria-label') || '').trim() || (el.labels && [...el.labels].map((l) => l.textContent).join('').trim()) ||
			(el.tagName === 'BUTTON' || el.tagName === 'A' ? el.textContent.trim() : '');
		if (!name) out.push(el.id || el.outerHTML.slice(0, 60));
	}
	return out;
})()`

// lowContrastJS lists shown texts whose colour against the nearest opaque
// background is below 4.5:1 (3:1 for large text), disabled controls aside.
const lowContrastJS = `(() => {
	const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => {
		const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
		return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
	};
	const bgOf = (el) => {
		for (let e = el; e; e = e.parentElement) {
			const c = rgb(getComputedStyle(e).backgroundColor);
			if (c.length === 3 || (c.length === 4 && c[3] >= 0.75)) return c.slice(0, 3);
		}
		return [255, 255, 255];
	};
	const out = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const el = n.parentElement;
		// (text clipped for screen readers only is not seen)
		if (!n.textContent.trim() || el.getBoundingClientRect().width <= 1 || el.closest('[disabled], option, script, style')) continue;
		const cs = getComputedStyle(el);
		if (cs.visibility === 'hidden') continue;
		const a = lum(rgb(cs.color)), b = lum(bgOf(el));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		const large = parseFloat(cs.fontSize) >= 24 || (parseFloat(cs.fontSize) >= 18.66 && Number(cs.fontWeight) >= 700);
		if (ratio < (large ? 3 : 4.5)) out.push(n.textContent.trim().slice(0, 30) + ' ' + ratio.toFixed(2));
	}
	return out;
})()`
