package transcode

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
)

// logBurst is how many FFmpeg messages of one kind (component and level)
// are logged per logInterval; the rest are counted and summed up in one
// line, so a publisher sending garbage cannot flood the log.
const (
	logBurst    = 5
	logInterval = 10 * time.Second
)

// SetLogger sends FFmpeg's own messages at warning level and above to l
// (debug level when l is enabled for it), at most logBurst per kind every
// logInterval. Call it once at start-up.
func SetLogger(l *slog.Logger) {
	level := astiav.LogLevelWarning
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = astiav.LogLevelVerbose
	}
	lim := &logLimiter{kinds: map[logKind]*logWindow{}}
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
		component := ""
		if c != nil {
			if cl := c.Class(); cl != nil {
				component = cl.Name()
			}
		}
		log, dropped := lim.allow(logKind{component, sl}, time.Now())
		if dropped > 0 {
			l.Log(context.Background(), sl, "ffmpeg messages suppressed", "ffmpeg", component, "count", dropped, "during", logInterval)
		}
		if log {
			l.Log(context.Background(), sl, msg, "ffmpeg", component)
		}
	})
}

type logKind struct {
	component string
	level     slog.Level
}

type logWindow struct {
	start   time.Time
	logged  int
	dropped int
}

// logLimiter counts messages per kind in fixed windows. FFmpeg calls the
// log callback from whichever thread logs, hence the lock.
type logLimiter struct {
	mu    sync.Mutex
	kinds map[logKind]*logWindow
}

// allow reports whether to log a message of kind k now, and how many of
// that kind were suppressed in the window that just ended.
func (l *logLimiter) allow(k logKind, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.kinds[k]
	if w == nil {
		w = &logWindow{start: now}
		l.kinds[k] = w
	}
	dropped := 0
	if now.Sub(w.start) >= logInterval {
		dropped = w.dropped
		*w = logWindow{start: now}
	}
	if w.logged >= logBurst {
		w.dropped++
		return false, dropped
	}
	w.logged++
	return true, dropped
}
