package server_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/config"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

func TestFromConfig(t *testing.T) {
	env := []string{"MCU_KEYS=APIhook: a-secret-of-at-least-32-characters", "MCU_WEBHOOK_API_KEY=APIhook", "MCU_WEBHOOK_URLS=https://app.example.org/h"}
	args := []string{"-quality", "480p", "-fps", "15", "-udp-ports", "50000-50100", "-public-ip", "203.0.113.7", "-max-participants", "9",
		"-recordings", "/srv/rec", "-min-free", "2GiB", "-retention-days", "7", "-max-rooms", "4", "-max-recordings", "2",
		"-metrics-addr", "127.0.0.1:9090", "-public-url", "https://mcu.example.org", "-messages-per-second", "5"}
	c, err := config.Load("serve", args, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := server.FromConfig(c, slog.New(slog.DiscardHandler))
	r := s.Rooms
	if r.Quality != output.Q480 || r.FPS != 15 || r.UDPPortMin != 50000 || r.UDPPortMax != 50100 || len(r.PublicIPs) != 1 || r.MaxParticipants != 9 || !r.IncludeLoopback {
		t.Errorf("rooms: %+v", r)
	}
	o := s.Ops
	if s.RecordingsDir != "/srv/rec" || o.MinFree != 2<<30 || o.RetentionDays != 7 || o.MaxRooms != 4 || o.MaxRecordings != 2 ||
		o.MetricsAddr != "127.0.0.1:9090" || o.Metrics == nil || o.PublicURL != "https://mcu.example.org" || s.Signaling.MaxMessagesPerSecond != 5 {
		t.Errorf("ops: %+v, dir %q, signaling %+v", o, s.RecordingsDir, s.Signaling)
	}
	if w := o.Webhook; len(w.URLs) != 1 || w.APIKey != "APIhook" || w.APISecret != "a-secret-of-at-least-32-characters" {
		t.Errorf("webhook: %+v", w)
	}
	c, _ = config.Load("serve", []string{"-metrics=false"}, nil, io.Discard)
	if s := server.FromConfig(c, nil); s.Ops.Metrics != nil || len(s.Ops.Webhook.URLs) != 0 || c.DrainGrace != 30*time.Second {
		t.Errorf("metrics off: %+v", s.Ops)
	}
}
