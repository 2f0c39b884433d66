package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mcu-dev/mcu/output"
)

// TLSModes are the values of tls.
var TLSModes = []string{"auto", "off"}

// Default media ports used when http listens beyond loopback.
const (
	DefaultUDPPort = 7882
	DefaultTCPPort = 7881
)

// Validate checks every setting and returns all problems found, each
// naming the key, where its value came from and what is allowed.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, value any, allowed string) {
		errs = append(errs, badValue("%s %s (from %s): %s", key, show(value), c.Origin(key), allowed))
	}
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		bad("http", c.HTTP, "want host:port, e.g. 127.0.0.1:8080 or :443")
	}
	if c.PublicURL != "" {
		if p, err := url.Parse(c.PublicURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("public_url", c.PublicURL, "want an http:// or https:// URL, e.g. https://mcu.example.org")
		}
	}
	if c.Cluster.Redis != "" {
		if p, err := url.Parse(c.Cluster.Redis); err != nil || (p.Scheme != "redis" && p.Scheme != "rediss") || p.Host == "" {
			bad("cluster.redis", c.Cluster.Redis, "want redis://host:port or rediss://host:port, e.g. redis://127.0.0.1:6379/0")
		}
		if p, err := url.Parse(c.Cluster.NodeURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("cluster.node_url", c.Cluster.NodeURL, "with cluster.redis, want this node's http:// or https:// URL as the other nodes reach it, e.g. http://10.0.0.2:8080")
		}
	}
	if c.Cluster.MaxCPU < 1 || c.Cluster.MaxCPU > 100 {
		bad("cluster.max_cpu", c.Cluster.MaxCPU, "want a percentage from 1 to 100")
	}
	if !slices.Contains(TLSModes, c.TLS) {
		bad("tls", c.TLS, "allowed values are auto, off")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert", c.TLSCert, "tls_cert and tls_key go together")
	}
	if c.TLSCert != "" && c.ACMEDomain != "" {
		bad("acme_domain", c.ACMEDomain, "give either acme_domain or tls_cert/tls_key, not both")
	}
	if c.TLS == "off" && (c.TLSCert != "" || c.ACMEDomain != "") {
		bad("tls", c.TLS, "tls: off contradicts tls_cert or acme_domain; use auto")
	}
	// package output words these errors, the same everywhere.
	if q, err := output.ParseQuality(c.Quality); err != nil || string(q) != c.Quality {
		if err == nil {
			err = fmt.Errorf("%w %q (allowed: %s)", output.ErrBadQuality, c.Quality, output.AllowedQualities())
		}
		errs = append(errs, badValue("quality (from %s): %v", c.Origin("quality"), err))
	}
	if _, err := output.ParseFPS(c.FPS); err != nil {
		errs = append(errs, badValue("fps (from %s): %v", c.Origin("fps"), err))
	}
	if _, err := output.ParseCodec(c.Codec); err != nil {
		errs = append(errs, badValue("codec (from %s): %v", c.Origin("codec"), err))
	}
	switch c.H264Preset {
	case "ultrafast", "superfast", "veryfast", "faster", "fast", "medium":
	default:
		bad("h264_preset", c.H264Preset, "allowed values are ultrafast, superfast, veryfast, faster, fast and medium")
	}
	if c.EncoderThreads < 1 || c.EncoderThreads > 16 {
		bad("encoder_threads", c.EncoderThreads, "allowed values are 1 to 16")
	}
	if c.UDPPort < -1 || c.UDPPort > 65535 {
		bad("udp_port", c.UDPPort, "allowed values are -1 (off), 0 (auto) and 1 to 65535")
	}
	if c.TCPPort < -1 || c.TCPPort > 65535 {
		bad("tcp_port", c.TCPPort, "allowed values are -1 (off), 0 (auto) and 1 to 65535")
	}
	if c.UDPPorts != "" {
		if _, _, err := c.PortRange(); err != nil {
			bad("udp_ports", c.UDPPorts, "want MIN-MAX, e.g. 50000-50100")
		}
	}
	for _, ip := range c.PublicIP {
		if _, err := netip.ParseAddr(ip); err != nil {
			bad("public_ip", ip, "want IP addresses, e.g. 203.0.113.7")
		}
	}
	for i, s := range c.ICEServers {
		key := "ice_servers"
		if len(s.URLs) == 0 {
			bad(key, fmt.Sprintf("entry %d", i+1), "each server needs urls")
		}
		for _, u := range s.URLs {
			scheme, _, _ := strings.Cut(u, ":")
			switch scheme {
			case "stun", "stuns":
			case "turn", "turns":
				if s.Username == "" || s.Credential == "" {
					bad(key, u, "a TURN server needs username and credential")
				}
			default:
				bad(key, u, "URLs start with stun:, stuns:, turn: or turns:")
			}
		}
	}
	if c.Limits.MaxRooms < 0 {
		bad("limits.max_rooms", c.Limits.MaxRooms, "want 0 (the default, 100) or more")
	}
	if c.Limits.MaxParticipants < 1 {
		bad("limits.max_participants", c.Limits.MaxParticipants, "want 1 or more")
	}
	if c.Limits.MaxViewers < 0 {
		bad("limits.max_viewers", c.Limits.MaxViewers, "want 0 (the default, 500) or more")
	}
	if c.Limits.MaxRecordings < 0 {
		bad("limits.max_recordings", c.Limits.MaxRecordings, "want 0 (the default, 100) or more")
	}
	if c.Limits.MessagesPerSecond < 1 {
		bad("limits.messages_per_second", c.Limits.MessagesPerSecond, "want 1 or more")
	}
	if c.Recordings.Dir == "" {
		bad("recordings.dir", c.Recordings.Dir, "want a directory")
	}
	if c.Recordings.RetentionDays < 0 {
		bad("recordings.retention_days", c.Recordings.RetentionDays, "want 0 (keep forever) or more")
	}
	if c.Metrics.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Addr); err != nil {
			bad("metrics.addr", c.Metrics.Addr, "want host:port, e.g. 127.0.0.1:9090")
		}
	}
	for _, u := range c.Webhook.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("webhook.urls", u, "want http:// or https:// URLs")
		}
	}
	if len(c.Webhook.URLs) > 0 {
		if c.Webhook.APIKey == "" {
			bad("webhook.api_key", "", "webhook.urls need webhook.api_key, one of keys")
		} else if _, ok := c.Keys[c.Webhook.APIKey]; !ok {
			bad("webhook.api_key", c.Webhook.APIKey, "want one of the keys (keys, keys_file or MCU_KEYS)")
		}
	}
	if c.DrainGrace < 0 {
		bad("drain_grace", c.DrainGrace, "want 0 or more")
	}
	return errors.Join(errs...)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// PortRange returns the bounds of udp_ports, or zeros when it is empty.
func (c *Config) PortRange() (lo, hi uint16, err error) {
	if c.UDPPorts == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(c.UDPPorts, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || x > y {
		return 0, 0, badValue("udp_ports %q: want MIN-MAX", c.UDPPorts)
	}
	return uint16(x), uint16(y), nil
}

// BeyondLoopback reports whether http listens on an address other clients
// can reach (anything but 127.0.0.0/8, ::1 or localhost).
func (c *Config) BeyondLoopback() bool {
	host, _, err := net.SplitHostPort(c.HTTP)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsLoopback()
}

// MuxUDPPort resolves udp_port: the single UDP media port, or 0 for none.
func (c *Config) MuxUDPPort() int {
	switch {
	case c.UDPPort > 0:
		return c.UDPPort
	case c.UDPPort == 0 && c.UDPPorts == "" && c.BeyondLoopback():
		return DefaultUDPPort
	}
	return 0
}

// ICETCPPort resolves tcp_port: the ICE-TCP port, or 0 for none.
func (c *Config) ICETCPPort() int {
	switch {
	case c.TCPPort > 0:
		return c.TCPPort
	case c.TCPPort == 0 && c.BeyondLoopback():
		return DefaultTCPPort
	}
	return 0
}
