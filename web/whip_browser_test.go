package web_test

import (
	"context"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
)

// whipWhepDir is where scripts/deps.sh puts the npm package whip-whep.
const whipWhepDir = "../third_party_npm/node_modules/whip-whep"

// needWhipWhep fails the test on CI and skips it elsewhere when the npm
// package whip-whep is missing.
func needWhipWhep(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(whipWhepDir, "whip.js")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the npm package whip-whep is required (bash scripts/deps.sh): %v", err)
		}
		t.Skipf("the npm package whip-whep is not installed (bash scripts/deps.sh): %v", err)
	}
}

// publishPage publishes the fake camera and microphone with Medooze's
// WHIPClient to ?url= with ?token=; ?codec= prefers a video codec. Noise
// suppression is off: it would fade a steady test tone out within seconds.
const publishPage = `<!doctype html>
<meta charset="utf-8">
<title>WHIP publisher</title>
<script type="module">
import { WHIPClient } from './whip.js';
const q = new URLSearchParams(location.search);
window.pub = { state: 'starting' };
// Every request the library makes, as "METHOD status", for the test.
window.calls = [];
const realFetch = window.fetch;
window.fetch = async (u, o) => {
  const r = await realFetch(u, o);
  window.calls.push(((o && o.method) || 'GET') + ' ' + r.status);
  return r;
};
try {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240, frameRate: 15 }, audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  const pc = new RTCPeerConnection();
  let codec = 'default';
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const want = q.get('codec');
    if (want && track.kind === 'video') {
      const caps = (RTCRtpSender.getCapabilities('video') || { codecs: [] }).codecs
        .filter(c => c.mimeType.toLowerCase() === 'video/' + want);
      try { if (caps.length) { tr.setCodecPreferences(caps); codec = want; } } catch (e) { codec = 'default (' + e + ')'; }
    }
  }
  const whip = new WHIPClient();
  await whip.publish(pc, q.get('url'), q.get('token'));
  window.pub = { state: 'published', whip, pc, codec, resource: String(whip.resourceURL) };
} catch (e) {
  window.pub = { state: 'error', error: String(e) };
}
</script>
`

// serveLibrary serves whip.js, whep.js and the publish page from a server of
// its own on 127.0.0.1: the library's requests to the MCU are cross-origin,
// as from any page on the web.
func serveLibrary(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(whipWhepDir)))
	mux.HandleFunc("/publish.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(publishPage))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// fakeMicrophone writes a WAV of a sine tone that Chromium loops as its microphone.
func fakeMicrophone(t *testing.T, dir, name string, hz float64) string {
	t.Helper()
	path := filepath.Join(dir, name+".wav")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%g:sample_rate=48000", hz), "-t", "4", "-ac", "1", "-c:a", "pcm_s16le", path)
	return path
}

// TestWHIPWHEPBrowser publishes two Chromium fake cameras (green and blue,
// with 660 and 880 Hz microphones) through the reference WHIPClient of the
// npm package whip-whep, from a page of another origin, next to a pion
// participant (red, 440 Hz). The participant's composite shows each
// publisher's colour in its tile and its audio holds their tones. A third
// Chromium plays the room on the watch page over WHEP: every colour, and
// all three tones in its audio. WHIPClient.stop() (DELETE) removes green's
// tile.
func TestWHIPWHEPBrowser(t *testing.T) {
	needChromium(t)
	needWhipWhep(t)
	srv := startMediaServer(t)
	base := srv.URL()
	lib := serveLibrary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	red := colourTone{"red", color.RGBA{255, 0, 0, 255}, 440, ""}
	part, err := peer.Dial(ctx, peer.Options{URL: srv.WebsocketURL(), Room: "B", Name: red.name, Colour: &red.rgb, Tone: red.tone, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()

	pubs := []colourTone{{"green", color.RGBA{0, 255, 0, 255}, 660, "vp8"}, {"blue", color.RGBA{0, 0, 255, 255}, 880, "h264"}}
	hex := map[string]string{"green": "0x00FF00", "blue": "0x0000FF"}
	var pages []*page
	for _, p := range pubs {
		pg := openBrowser(t, p.name, fakeCamera(t, dir, p.name, hex[p.name]),
			chromedp.Flag("use-file-for-fake-audio-capture", fakeMicrophone(t, dir, p.name, p.tone)))
		u := lib + "/publish.html?" + url.Values{"url": {base + "/whip/B"}, "token": {"name:" + p.name}, "codec": {p.codec}}.Encode()
		if err := pg.run(10*time.Second, chromedp.Navigate(u)); err != nil {
			t.Fatalf("%s: opening %s: %v", p.name, u, err)
		}
		pg.waitJS(20*time.Second, "published and connected",
			`window.pub && (window.pub.state === 'error' ? (() => { throw new Error(window.pub.error) })() : window.pub.state === 'published' && window.pub.pc.connectionState === 'connected')`)
		// The library trickles its candidates after the offer.
		pg.waitJS(5*time.Second, "candidates trickled with PATCH (204)", `window.calls.includes('POST 201') && window.calls.includes('PATCH 204')`)
		var codec string
		pg.mustEval(`window.pub.codec`, &codec)
		t.Logf("%s publishes over WHIP, video codec %s", p.name, codec)
		pages = append(pages, pg)
	}
	all := append([]colourTone{red}, pubs...)
	eventually(t, 20*time.Second, "participant sees every colour", func() error {
		info, err := mediaRoom(base, "B")
		if err != nil {
			return err
		}
		return tilesShow(part, info, all)
	})
	eventually(t, 10*time.Second, "participant hears both publishers", func() error { return hears(part, pubs, red.tone) })

	t.Run("WatchPage", func(t *testing.T) { testWatchPage(t, base, all) })

	// WHIPClient.stop() sends DELETE: green's tile goes.
	var stopped string
	if err := pages[0].run(10*time.Second, chromedp.Evaluate(`window.pub.whip.stop().then(() => 'stopped')`, &stopped, awaitPromise)); err != nil || stopped != "stopped" {
		t.Fatalf("green: WHIPClient.stop(): %q, %v", stopped, err)
	}
	eventually(t, 10*time.Second, "green's tile removed", func() error {
		info, err := mediaRoom(base, "B")
		if err != nil {
			return err
		}
		if len(info.Layout) != 2 || len(info.Participants) != 2 {
			return fmt.Errorf("layout %+v, %d participants; want red and blue only", info.Layout, len(info.Participants))
		}
		return tilesShow(part, info, []colourTone{red, pubs[1]})
	})
}

// testWatchPage opens /watch in Chromium and checks the colours of the
// composite at each tile and the three tones in the audio it plays.
func testWatchPage(t *testing.T, base string, all []colourTone) {
	w := openBrowser(t, "watcher", fakeCamera(t, t.TempDir(), "grey", "0x808080"))
	u := base + "/watch?room=B&token=name:watcher"
	if err := w.run(10*time.Second, chromedp.Navigate(u)); err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	w.waitJS(15*time.Second, "playing", `window.watch && window.watch.state === 'playing'`)
	info, err := mediaRoom(base, "B")
	if err != nil {
		t.Fatal(err)
	}
	if info.Viewers != 1 {
		t.Errorf("the room counts %d viewers, want 1", info.Viewers)
	}
	var tiles []tile
	for _, c := range all {
		for _, tl := range info.Layout {
			if tl.Name == c.name {
				tiles = append(tiles, tile{float64(tl.X+tl.W/2) / 640, float64(tl.Y+tl.H/2) / 360, int(c.rgb.R), int(c.rgb.G), int(c.rgb.B), c.name + " tile"})
			}
		}
	}
	w.waitFor(15*time.Second, "every colour on the watch page", func() error { return w.checkMixed(640, 360, tiles) })

	// The page's audio through an analyser: each tone stands 20 dB above
	// the quiet band between them.
	js := `(async () => {
		const ac = new AudioContext({ sampleRate: 48000 });
		const an = ac.createAnalyser();
		an.fftSize = 8192;
		an.smoothingTimeConstant = 0.5;
		ac.createMediaStreamSource(window.watch.stream).connect(an);
		await new Promise(r => setTimeout(r, 1500));
		const bins = new Float32Array(an.frequencyBinCount);
		an.getFloatFrequencyData(bins);
		const hz = 48000 / an.fftSize;
		const at = f => Math.max(...[-2, -1, 0, 1, 2].map(d => bins[Math.round(f / hz) + d]));
		const quiet = [1500, 1700, 1900, 2100, 2300].map(at).sort((a, b) => a - b)[2];
		const out = { quiet, state: ac.state };
		for (const f of [` + tonesJS(all) + `]) out[f] = at(f);
		ac.close();
		return out;
	})()`
	w.waitFor(20*time.Second, "every tone on the watch page", func() error {
		var levels map[string]any
		if err := w.run(10*time.Second, chromedp.Evaluate(js, &levels, awaitPromise)); err != nil {
			return err
		}
		quiet, _ := levels["quiet"].(float64)
		for _, c := range all {
			l, _ := levels[fmt.Sprint(c.tone)].(float64)
			if l < quiet+20 {
				return fmt.Errorf("%s's %v Hz tone at %.1f dB, the quiet band at %.1f dB (%v)", c.name, c.tone, l, quiet, levels)
			}
		}
		return nil
	})
	w.click("#stop")
	w.waitJS(5*time.Second, "stopped", `window.watch.state === 'stopped'`)
	eventually(t, 5*time.Second, "viewer gone after Stop", func() error {
		info, err := mediaRoom(base, "B")
		if err != nil {
			return err
		}
		if info.Viewers != 0 {
			return fmt.Errorf("%d viewers", info.Viewers)
		}
		return nil
	})
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

func tonesJS(all []colourTone) string {
	var s []string
	for _, c := range all {
		s = append(s, fmt.Sprint(c.tone))
	}
	return strings.Join(s, ", ")
}
