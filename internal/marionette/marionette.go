// Package marionette drives a headless Firefox for browser tests through its
// Marionette protocol (length-prefixed JSON over TCP), since Debian packages
// no geckodriver. It knows the few commands the tests need: navigate, run a
// script, take a screenshot.
package marionette

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefs are the Firefox preferences a media test needs: fake camera and
// microphone without a permission prompt, autoplay with sound, ICE on the
// loopback interface with plain host addresses, and no network chatter.
var Prefs = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.autoplay.default":                            0,
	"media.autoplay.block-webaudio":                     false,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.startup.homepage_override.mstone":          "ignore",
	"datareporting.policy.dataSubmissionEnabled":        false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"app.update.disabledForTesting":                     true,
	"browser.aboutwelcome.enabled":                      false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"extensions.update.enabled":                         false,
	"browser.safebrowsing.update.enabled":               false,
	"marionette.port":                                   0, // any free port, written to MarionetteActivePort
}

// Browser is a running Firefox with one Marionette session.
type Browser struct {
	cmd  *exec.Cmd
	conn net.Conn
	rd   *bufio.Reader
	dir  string

	mu     sync.Mutex
	nextID int
	done   chan struct{}
}

// Launch starts Firefox (binary, e.g. /usr/bin/firefox-esr) headless with a
// new profile in dir and the given window size, and opens a session. Extra
// preferences are added to Prefs. log receives Firefox's output (may be nil).
func Launch(ctx context.Context, binary, dir string, width, height int, extra map[string]any, log io.Writer) (*Browser, error) {
	var prefs strings.Builder
	for k, v := range Prefs {
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", k, jsValue(v))
	}
	for k, v := range extra {
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", k, jsValue(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "user.js"), []byte(prefs.String()), 0o644); err != nil {
		return nil, fmt.Errorf("marionette: writing prefs: %w", err)
	}
	cmd := exec.Command(binary, "--headless", "--marionette", "--no-remote", "--profile", dir,
		"--width", strconv.Itoa(width), "--height", strconv.Itoa(height), "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1", "MOZ_CRASHREPORTER_DISABLE=1")
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("marionette: starting %s: %w", binary, err)
	}
	b := &Browser{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	if err := b.connect(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if _, err := b.Call(ctx, "WebDriver:NewSession", map[string]any{"capabilities": map[string]any{}}); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func jsValue(v any) string {
	j, _ := json.Marshal(v)
	return string(j)
}

// connect waits for the port file, then for the server's hello.
func (b *Browser) connect(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	portFile := filepath.Join(b.dir, "MarionetteActivePort")
	for {
		data, err := os.ReadFile(portFile)
		if err == nil && len(strings.TrimSpace(string(data))) > 0 {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strings.TrimSpace(string(data)))
			if err == nil {
				b.conn = conn
				b.rd = bufio.NewReader(conn)
				var hello map[string]any
				if err := b.read(&hello); err != nil {
					return fmt.Errorf("marionette: reading hello: %w", err)
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("marionette: waiting for Firefox's Marionette port: %w", ctx.Err())
		case <-b.done:
			return errors.New("marionette: Firefox exited before opening its Marionette port")
		case <-tick.C:
		}
	}
}

// read reads one "length:json" packet into v.
func (b *Browser) read(v any) error {
	n, err := b.rd.ReadString(':')
	if err != nil {
		return err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, ":"))
	if err != nil {
		return fmt.Errorf("bad packet length %q", n)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(b.rd, buf); err != nil {
		return err
	}
	return json.Unmarshal(buf, v)
}

// Error is a WebDriver error returned by Firefox.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "marionette: " + e.Code + ": " + e.Message }

// Call sends one command and returns its result.
func (b *Browser) Call(ctx context.Context, name string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	id := b.nextID
	msg, err := json.Marshal([]any{0, id, name, params})
	if err != nil {
		return nil, fmt.Errorf("marionette: encoding %s: %w", name, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = b.conn.SetDeadline(dl)
	} else {
		_ = b.conn.SetDeadline(time.Time{})
	}
	if _, err := fmt.Fprintf(b.conn, "%d:%s", len(msg), msg); err != nil {
		return nil, fmt.Errorf("marionette: sending %s: %w", name, err)
	}
	for {
		var reply []json.RawMessage
		if err := b.read(&reply); err != nil {
			return nil, fmt.Errorf("marionette: reading reply to %s: %w", name, err)
		}
		if len(reply) != 4 {
			return nil, fmt.Errorf("marionette: reply to %s has %d fields", name, len(reply))
		}
		var got int
		if err := json.Unmarshal(reply[1], &got); err != nil || got != id {
			continue // a late reply to a command that timed out
		}
		if string(reply[2]) != "null" {
			var e Error
			if err := json.Unmarshal(reply[2], &e); err != nil {
				return nil, fmt.Errorf("marionette: %s failed: %s", name, reply[2])
			}
			return nil, &e
		}
		return reply[3], nil
	}
}

// Navigate loads url and waits for the page to load.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	_, err := b.Call(ctx, "WebDriver:Navigate", map[string]any{"url": url})
	return err
}

// Eval runs script (a function body: "return ...") in the page and decodes
// its return value into out (which may be nil).
func (b *Browser) Eval(ctx context.Context, script string, out any) error {
	res, err := b.Call(ctx, "WebDriver:ExecuteScript", map[string]any{"script": script, "args": []any{}})
	if err != nil {
		return err
	}
	var v struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(res, &v); err != nil {
		return fmt.Errorf("marionette: decoding script result: %w", err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(v.Value, out); err != nil {
		return fmt.Errorf("marionette: decoding script result %s: %w", v.Value, err)
	}
	return nil
}

// Screenshot returns a PNG of the viewport.
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	res, err := b.Call(ctx, "WebDriver:TakeScreenshot", map[string]any{"full": false})
	if err != nil {
		return nil, err
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(res, &v); err != nil {
		return nil, fmt.Errorf("marionette: decoding screenshot: %w", err)
	}
	png, err := base64.StdEncoding.DecodeString(v.Value)
	if err != nil {
		return nil, fmt.Errorf("marionette: decoding screenshot: %w", err)
	}
	return png, nil
}

// Close ends the session and stops Firefox; it may be called more than once.
func (b *Browser) Close() {
	if b.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = b.Call(ctx, "Marionette:Quit", map[string]any{"flags": []string{"eForceQuit"}})
		cancel()
		_ = b.conn.Close()
	}
	select {
	case <-b.done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}
