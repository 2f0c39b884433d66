// Package config holds the one configuration of "mcu serve": every setting,
// its default, its YAML key, its MCU_* environment variable and its flag,
// documented once in the struct tags below.
//
// Sources apply in this order, later ones winning: defaults, the YAML file
// (-config or MCU_CONFIG), MCU_* environment variables, flags; then
// Validate. Unknown keys, bad values and malformed variables are errors that
// name the key, variable or flag and the values allowed.
package config

import (
	"time"
)

// Config is the whole server configuration. The tags carry the YAML key,
// the environment variable, the flag and the one sentence of documentation
// of each setting; docs/config.md is generated from them.
type Config struct {
	HTTP      string `yaml:"http" env:"MCU_HTTP" flag:"http" usage:"HTTP(S) listen address, host:port. Listening beyond loopback turns on TLS (tls: auto), authentication and the single-port media mux."`
	Verbose   bool   `yaml:"verbose" env:"MCU_VERBOSE" flag:"v" usage:"Debug logging."`
	PublicURL string `yaml:"public_url" env:"MCU_PUBLIC_URL" flag:"public-url" usage:"Base URL clients reach this server at (e.g. https://mcu.example.org), used in links such as webhook download URLs; empty: derived from http."`
	DataDir   string `yaml:"data_dir" env:"MCU_DATA_DIR" flag:"data-dir" usage:"Directory of state kept across restarts: the self-signed certificate and, unless acme_cache_dir is set, the ACME cache."`

	TLS          string `yaml:"tls" env:"MCU_TLS" flag:"tls" usage:"auto: HTTPS with tls_cert/tls_key, else acme_domain, else a self-signed certificate when http listens beyond loopback (plain HTTP on loopback); off: plain HTTP."`
	TLSCert      string `yaml:"tls_cert" env:"MCU_TLS_CERT" flag:"tls-cert" usage:"PEM certificate (chain) file; reloaded when it changes. Needs tls_key."`
	TLSKey       string `yaml:"tls_key" env:"MCU_TLS_KEY" flag:"tls-key" usage:"PEM private key file of tls_cert."`
	ACMEDomain   string `yaml:"acme_domain" env:"MCU_ACME_DOMAIN" flag:"acme-domain" usage:"Domain to get a certificate for from an ACME CA (HTTP-01 on :80)."`
	ACMECacheDir string `yaml:"acme_cache_dir" env:"MCU_ACME_CACHE_DIR" flag:"acme-cache-dir" usage:"Directory of ACME account and certificates; empty means data_dir/acme."`
	ACMEEmail    string `yaml:"acme_email" env:"MCU_ACME_EMAIL" flag:"acme-email" usage:"Contact email given to the ACME CA."`

	Keys           map[string]string `yaml:"keys" env:"MCU_KEYS" secret:"true" usage:"API keys and their secrets (LiveKit format) that sign access tokens and webhooks. MCU_KEYS holds key: secret pairs separated by commas or newlines. Secrets are masked when printed."`
	KeysFile       string            `yaml:"keys_file" env:"MCU_KEYS_FILE" flag:"keys-file" usage:"YAML file of key: secret pairs, added to keys."`
	InsecureNoAuth bool              `yaml:"insecure_no_auth" env:"MCU_INSECURE_NO_AUTH" flag:"insecure-no-auth" usage:"Serve beyond loopback without authentication (a warning is logged every minute)."`

	Quality        string `yaml:"quality" env:"MCU_QUALITY" flag:"quality" usage:"Output quality of new rooms: 360p, 480p or 720p."`
	FPS            int    `yaml:"fps" env:"MCU_FPS" flag:"fps" usage:"Output frame rate of new rooms: 15 or 30."`
	Codec          string `yaml:"codec" env:"MCU_CODEC" flag:"codec" usage:"Live video codec of new rooms: auto (each receiver's offer decides, H.264 when it offers both), vp8 or h264."`
	H264Preset     string `yaml:"h264_preset" env:"MCU_H264_PRESET" flag:"h264-preset" usage:"libx264 speed preset of live H.264: ultrafast (cheapest) to medium."`
	EncoderThreads int    `yaml:"encoder_threads" env:"MCU_ENCODER_THREADS" flag:"encoder-threads" usage:"Threads of each room's video encoder (one per room scales best)."`

	UDPPort    int         `yaml:"udp_port" env:"MCU_UDP_PORT" flag:"udp-port" usage:"One UDP port for all WebRTC media (ICE mux). 0: 7882 when http listens beyond loopback and udp_ports is empty, else off; -1: off."`
	TCPPort    int         `yaml:"tcp_port" env:"MCU_TCP_PORT" flag:"tcp-port" usage:"ICE-TCP port, the fallback when UDP is blocked. 0: 7881 when http listens beyond loopback, else off; -1: off."`
	UDPPorts   string      `yaml:"udp_ports" env:"MCU_UDP_PORTS" flag:"udp-ports" usage:"WebRTC UDP port range MIN-MAX (one port per participant); empty for any port."`
	PublicIP   []string    `yaml:"public_ip" env:"MCU_PUBLIC_IP" flag:"public-ip" usage:"Public IP addresses to announce behind a 1:1 NAT (comma separated in env and flag)."`
	Loopback   bool        `yaml:"loopback" env:"MCU_LOOPBACK" flag:"loopback" usage:"Offer 127.0.0.1 ICE candidates."`
	ICEServers []ICEServer `yaml:"ice_servers" env:"MCU_ICE_SERVERS" flag:"ice-servers" usage:"STUN/TURN servers handed to clients. In env and flag: comma separated URL or username:credential@URL entries. Credentials are masked when printed."`

	Limits     Limits     `yaml:"limits"`
	Recordings Recordings `yaml:"recordings"`
	Metrics    Metrics    `yaml:"metrics"`
	Webhook    Webhook    `yaml:"webhook"`
	Cluster    Cluster    `yaml:"cluster"`

	DrainGrace time.Duration `yaml:"drain_grace" env:"MCU_DRAIN_GRACE" flag:"drain-grace" usage:"On SIGTERM, how long to wait for participants to leave and recordings to finalize before exiting."`

	// origin records where each key's value came from, for error messages.
	origin   map[string]string
	warnings []string
}

// ICEServer is a STUN or TURN server given to clients.
type ICEServer struct {
	URLs       []string `yaml:"urls" usage:"stun:, stuns:, turn: or turns: URLs."`
	Username   string   `yaml:"username" usage:"TURN username."`
	Credential string   `yaml:"credential" secret:"true" usage:"TURN credential."`
}

// Limits caps what one server accepts.
type Limits struct {
	MaxRooms          int `yaml:"max_rooms" env:"MCU_MAX_ROOMS" flag:"max-rooms" usage:"Rooms open at once; 0: the default, 100."`
	MaxParticipants   int `yaml:"max_participants" env:"MCU_MAX_PARTICIPANTS" flag:"max-participants" usage:"Participants per room."`
	MaxViewers        int `yaml:"max_viewers" env:"MCU_MAX_VIEWERS" flag:"max-viewers" usage:"Receive-only participants (WHEP viewers, watch pages) per room besides max_participants; 0: the default, 500."`
	MaxRecordings     int `yaml:"max_recordings" env:"MCU_MAX_RECORDINGS" flag:"max-recordings" usage:"Recordings running at once on this server; 0: no limit."`
	MessagesPerSecond int `yaml:"messages_per_second" env:"MCU_MESSAGES_PER_SECOND" flag:"messages-per-second" usage:"Websocket messages one client may send per second on average (bursts of 50) before it gets an error and is closed."`
}

// Recordings configures where recordings go and how the disk is guarded.
type Recordings struct {
	Dir           string `yaml:"dir" env:"MCU_RECORDINGS" flag:"recordings" usage:"Directory of recordings."`
	MinFree       Size   `yaml:"min_free" env:"MCU_RECORDINGS_MIN_FREE" flag:"min-free" usage:"Disk guard: recordings refuse to start, and running ones stop as failed, when free space in dir falls below this (e.g. 512MB, 2GiB); 0: off."`
	RetentionDays int    `yaml:"retention_days" env:"MCU_RECORDINGS_RETENTION_DAYS" flag:"retention-days" usage:"Delete finished recordings older than this many days; 0: keep forever."`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool   `yaml:"enabled" env:"MCU_METRICS" flag:"metrics" usage:"Serve Prometheus metrics on /metrics."`
	Addr    string `yaml:"addr" env:"MCU_METRICS_ADDR" flag:"metrics-addr" usage:"Separate host:port for /metrics (no authentication); empty: on the main listener, where it needs a token with roomList when authentication is on."`
}

// Webhook configures LiveKit-format webhooks.
type Webhook struct {
	APIKey string   `yaml:"api_key" env:"MCU_WEBHOOK_API_KEY" flag:"webhook-api-key" usage:"API key (one of keys) whose secret signs webhooks."`
	URLs   []string `yaml:"urls" env:"MCU_WEBHOOK_URLS" flag:"webhook-urls" usage:"URLs that receive every event by POST (comma separated in env and flag)."`
}

// Cluster shares rooms and recordings with other nodes through Redis
// (docs/cluster.md).
type Cluster struct {
	Redis   string `yaml:"redis" env:"MCU_REDIS" flag:"redis" secret:"true" usage:"Redis URL (redis://[:password@]host:6379/0) of the room directory shared by the nodes of a cluster; empty: this node alone, rooms in memory. A password is shown as xxxxx when printed."`
	NodeURL string `yaml:"node_url" env:"MCU_NODE_URL" flag:"node-url" usage:"Base URL (http(s)://host:port) at which clients and the other nodes reach this node; required with redis."`
	NodeID  string `yaml:"node_id" env:"MCU_NODE_ID" flag:"node-id" usage:"This node's name in the directory, the same across restarts so its recordings are found again; empty: node_url's host:port."`
	MaxCPU  int    `yaml:"max_cpu" env:"MCU_MAX_CPU" flag:"max-cpu" usage:"CPU use of this node, in percent of all cores over the last 2 s, above which it takes no new rooms; when every node is above, joins of new rooms get server_full."`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		HTTP:           "127.0.0.1:8080",
		DataDir:        "data",
		TLS:            "auto",
		Quality:        "720p",
		FPS:            30,
		Codec:          "auto",
		H264Preset:     "ultrafast",
		EncoderThreads: 1,
		Loopback:       true,
		Limits: Limits{
			MaxParticipants:   16,
			MessagesPerSecond: 20,
		},
		Recordings: Recordings{
			Dir:     "recordings",
			MinFree: 512 << 20,
		},
		Metrics:    Metrics{Enabled: true},
		Cluster:    Cluster{MaxCPU: 80},
		DrainGrace: 30 * time.Second,
	}
}
