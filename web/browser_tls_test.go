package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/certs"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

// openTLSBrowser is openBrowser for a server with a self-signed
// certificate: Chromium is told to accept it, as a user would once.
func openTLSBrowser(t *testing.T, name, camera string) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", camera),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("%s: starting %s: %v", name, chromiumPath, err)
	}
	return &page{t: t, name: name, ctx: ctx}
}

// tokenShim makes the page's websocket carry the token from the page's
// ?token= whether or not the client itself sends it, so that this test
// checks the server's side over wss whatever the client's version.
const tokenShim = `(() => {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) return;
  const WS = window.WebSocket;
  window.WebSocket = function (u, p) {
    const url = new URL(u, location.href);
    if (!url.searchParams.has('access_token')) url.searchParams.set('access_token', token);
    return new WS(url.toString(), p);
  };
  window.WebSocket.prototype = WS.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();`

// TestBrowserOverHTTPSWithToken serves with a self-signed certificate (as
// -tls auto does) and tokens required; two Chromiums join over https with
// their tokens, and each sees both cameras' tiles and the names the tokens
// carry.
func TestBrowserOverHTTPSWithToken(t *testing.T) {
	needChromium(t)
	keys, err := auth.NewKeys("APIbrowser", "browser-test-secret-0123456789abcdefghij")
	if err != nil {
		t.Fatal(err)
	}
	src, err := certs.New(certs.Options{SelfSigned: true, Dir: filepath.Join(t.TempDir(), "tls"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := server.New(server.Config{
		Rooms: mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true, MaxParticipants: 3},
		Log:   log, Keys: keys, TLS: src.TLSConfig(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	base := srv.URL()
	if base[:8] != "https://" {
		t.Fatalf("server URL %s is not https", base)
	}
	cams := t.TempDir()
	var pages []*page
	for _, who := range []struct{ name, colour string }{{"red", "0xFF0000"}, {"blue", "0x0000FF"}} {
		tok, err := keys.Mint(auth.NewClaims(who.name, "Token "+who.name, auth.VideoGrant{Room: "S", RoomJoin: true}, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		p := openTLSBrowser(t, who.name, fakeCamera(t, cams, who.name, who.colour))
		link := fmt.Sprintf("%s/?room=S&name=%s&autojoin=1&token=%s", base, who.name, url.QueryEscape(tok))
		err = p.run(10*time.Second,
			chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := cdppage.AddScriptToEvaluateOnNewDocument(tokenShim).Do(ctx)
				return err
			}),
			chromedp.Navigate(link))
		if err != nil {
			t.Fatalf("%s: opening %s: %v", who.name, link, err)
		}
		var secure bool
		p.mustEval(`window.isSecureContext && location.protocol === 'https:'`, &secure)
		if !secure {
			t.Fatalf("%s: the page is not a secure context", who.name)
		}
		p.waitJS(20*time.Second, "connected", `window.mcu && window.mcu.state === 'connected'`)
		pages = append(pages, p)
	}
	for _, p := range pages {
		p.waitFor(15*time.Second, "#mixed with both cameras", func() error {
			return p.checkMixed(640, 360, []tile{{0.25, 0.5, 255, 0, 0, "red tile (left)"}, {0.75, 0.5, 0, 0, 255, "blue tile (right)"}})
		})
		p.waitJS(5*time.Second, "the tokens' names listed",
			`document.querySelector('#participants').textContent.includes('Token red') && document.querySelector('#participants').textContent.includes('Token blue')`)
	}
}
