package server

import (
	"log/slog"

	"github.com/mcu-dev/mcu/config"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/webhook"
)

// FromConfig turns a validated configuration into the server's. TLS, keys
// and the media ports beyond the UDP range are applied by their own
// packages.
func FromConfig(c *config.Config, log *slog.Logger) Config {
	lo, hi, _ := c.PortRange() // validated
	cfg := Config{
		Rooms: mcu.Config{
			Quality: output.Quality(c.Quality), FPS: c.FPS, MaxParticipants: c.Limits.MaxParticipants, MaxViewers: c.Limits.MaxViewers,
			UDPPortMin: lo, UDPPortMax: hi, PublicIPs: c.PublicIP, IncludeLoopback: c.Loopback,
			EncoderThreads: c.EncoderThreads, Codec: output.Codec(c.Codec), LivePreset: c.H264Preset,
		},
		RecordingsDir: c.Recordings.Dir,
		Signaling:     signaling.Options{MaxMessagesPerSecond: c.Limits.MessagesPerSecond},
		Log:           log,
		Ops: Ops{
			MetricsAddr:   c.Metrics.Addr,
			MinFree:       uint64(c.Recordings.MinFree),
			RetentionDays: c.Recordings.RetentionDays,
			MaxRooms:      c.Limits.MaxRooms,
			MaxRecordings: c.Limits.MaxRecordings,
			PublicURL:     c.PublicURL,
		},
	}
	if c.Cluster.Redis != "" {
		cfg.Cluster = Cluster{RedisURL: c.Cluster.Redis, NodeID: c.Cluster.NodeID, NodeURL: c.Cluster.NodeURL, MaxCPU: float64(c.Cluster.MaxCPU) / 100}
	}
	if c.Metrics.Enabled {
		cfg.Ops.Metrics = metrics.New()
	}
	if len(c.Webhook.URLs) > 0 {
		cfg.Ops.Webhook = webhook.Options{URLs: c.Webhook.URLs, APIKey: c.Webhook.APIKey, APISecret: c.Keys[c.Webhook.APIKey]}
	}
	return cfg
}
