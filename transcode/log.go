package transcode

import (
	"context"
	"log/slog"
	"strings"

	"github.com/asticode/go-astiav"
)

// SetLogger sends FFmpeg's own messages at warning level and above to l
// (debug level when l is enabled for it). Call it once at start-up.
func SetLogger(l *slog.Logger) {
	level := astiav.LogLevelWarning
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = astiav.LogLevelVerbose
	}
	astiav.SetLogLevel(level)
	astiav.SetLogCallback(func(c astiav.Classer, lv astiav.LogLevel, _, msg string) {
		if lv > level {
			return
		}
		msg = strings.TrimSpace(msg)
		if msg == "" {
			return
		}
		sl := slog.LevelDebug
		switch {
		case lv <= astiav.LogLevelError:
			sl = slog.LevelError
		case lv <= astiav.LogLevelWarning:
			sl = slog.LevelWarn
		}
		attrs := []any{}
		if c != nil {
			if cl := c.Class(); cl != nil {
				attrs = append(attrs, "ffmpeg", cl.Name())
			}
		}
		l.Log(context.Background(), sl, msg, attrs...)
	})
}
