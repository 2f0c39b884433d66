// Package web serves the MCU over HTTP: the JSON API, the websocket
// signaling endpoint and the embedded browser client.
package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
)

//go:embed static
var static embed.FS

// maxBodyBytes bounds JSON request bodies.
const maxBodyBytes = 64 << 10

// Options wires the handler to the rest of the server.
type Options struct {
	Rooms *mcu.Rooms
	// Recorder serves /api/recordings; nil disables recording.
	Recorder *mcu.Recorder
	// Signaling serves /ws.
	Signaling http.Handler
	// Hosts are the host names this server answers to besides loopback
	// names and IP addresses ("*": any); others are refused, which stops
	// DNS rebinding.
	Hosts []string
	// CheckOrigin approves the Origin of state-changing API requests
	// (default: signaling.AllowOrigins(nil), same origin only).
	CheckOrigin func(*http.Request) bool
	// Backend admits WHIP publishers and WHEP viewers (default: Rooms).
	Backend signaling.Backend
	// Authorize checks WHIP and WHEP requests (their bearer token); nil
	// derives the check from Keys (nil Keys lets everyone in).
	Authorize Authorize
	// MediaSessionsPerMinute bounds the WHIP and WHEP sessions one address
	// may open per minute (default 120; more get 429).
	MediaSessionsPerMinute int
	// ICEServers (STUN/TURN) are offered to WHIP and WHEP clients in Link
	// headers (RFC 9725 section 4.6).
	ICEServers []webrtc.ICEServer
	Log        *slog.Logger
	// Keys verify the API's bearer tokens (see docs/security.md); nil
	// turns every check off.
	Keys *auth.Keys
	// Limiter slows down addresses that keep failing authentication.
	Limiter *auth.Limiter
	// Cluster, in cluster mode, sends requests for rooms and recordings of
	// other nodes there; nil: this server is alone.
	Cluster Cluster
}

// NewHandler returns the HTTP handler of the whole server.
func NewHandler(o Options) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	g.Use(gin.Recovery())
	if o.CheckOrigin == nil {
		o.CheckOrigin = signaling.AllowOrigins(nil)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	g.Use(newRequestGuard(o.Hosts, o.CheckOrigin).handle)
	g.Use(func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
		c.Next()
	})
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a := &api{rooms: o.Rooms, recorder: o.Recorder, log: o.Log, keys: o.Keys, limiter: o.Limiter, cluster: o.Cluster}
	authed := a.authenticate(false)
	g.GET("/api/rooms", authed, a.listRooms)
	g.GET("/api/rooms/:room", authed, a.getRoom)
	g.PUT("/api/rooms/:room", authed, a.putRoom)
	if o.Recorder != nil {
		a.recordingRoutes(g)
	}
	if o.Signaling != nil {
		g.GET("/ws", gin.WrapH(o.Signaling))
	}
	if o.Backend == nil && o.Rooms != nil {
		o.Backend = o.Rooms
	}
	if o.Backend != nil {
		if o.MediaSessionsPerMinute <= 0 {
			o.MediaSessionsPerMinute = 120
		}
		media := &mediaEndpoints{backend: o.Backend, authorize: o.Authorize, log: o.Log, starts: signaling.NewAddressRate(o.MediaSessionsPerMinute), links: iceLinks(o.ICEServers),
			sessions: map[string]*mediaSession{}}
		if o.Cluster != nil {
			media.self = strings.TrimSuffix(o.Cluster.URL(), "/")
		}
		media.routes(g)
	}
	sub, _ := fs.Sub(static, "static")
	files := http.FileServer(http.FS(sub))
	g.GET("/watch", func(c *gin.Context) { c.FileFromFS("watch.html", http.FS(sub)) })
	g.NoRoute(func(c *gin.Context) {
		if len(c.Request.URL.Path) >= 5 && c.Request.URL.Path[:5] == "/api/" {
			apiError(c, http.StatusNotFound, "no such API endpoint: "+c.Request.Method+" "+c.Request.URL.Path)
			return
		}
		files.ServeHTTP(c.Writer, c.Request)
	})
	return g
}

type api struct {
	rooms    *mcu.Rooms
	recorder *mcu.Recorder
	log      *slog.Logger
	keys     *auth.Keys
	limiter  *auth.Limiter
	cluster  Cluster
}

func apiError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

func (a *api) listRooms(c *gin.Context) {
	if !a.allowed(c, (*auth.Claims).List) {
		return
	}
	rooms := a.rooms.List()
	out := make([]mcu.RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.Info())
	}
	if a.cluster != nil && c.GetHeader(forwardedHeader) == "" {
		c.JSON(http.StatusOK, gin.H{"rooms": a.withRemoteRooms(c, out)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"rooms": out})
}

func (a *api) room(c *gin.Context) *mcu.Room {
	r, err := a.rooms.Room(c.Param("room"))
	if err != nil {
		if a.forwardRoom(c, c.Param("room")) {
			return nil
		}
		apiError(c, http.StatusNotFound, "room "+c.Param("room")+" not found")
		return nil
	}
	return r
}

func (a *api) getRoom(c *gin.Context) {
	if !a.allowed(c, func(cl *auth.Claims) error { return cl.ViewRoom(c.Param("room")) }) {
		return
	}
	if r := a.room(c); r != nil {
		c.JSON(http.StatusOK, r.Info())
	}
}

// settingsRequest is the body of PUT /api/rooms/{room}.
type settingsRequest struct {
	Quality string `json:"quality"`
	FPS     int    `json:"fps"`
	// Layout is auto, grid, speaker, presenter or single; Pinned is the
	// participant shown large ("" unpins).
	Layout string  `json:"layout"`
	Pinned *string `json:"pinned"`
	// Codec (auto, vp8, h264) applies to receivers that join later; Rung
	// pins every receiver to one rung of the ladder and MaxRung caps it
	// ("" lifts either).
	Codec   *string `json:"codec"`
	Rung    *string `json:"rung"`
	MaxRung *string `json:"max_rung"`
}

func (a *api) putRoom(c *gin.Context) {
	if !a.allowed(c, func(cl *auth.Claims) error { return cl.Admin(c.Param("room")) }) {
		return
	}
	r := a.room(c)
	if r == nil {
		return
	}
	var req settingsRequest
	if err := decodeJSON(c, &req); err != nil {
		apiError(c, http.StatusBadRequest, err.Error())
		return
	}
	if req.Quality == "" && req.FPS == 0 && req.Layout == "" && req.Pinned == nil && req.Codec == nil && req.Rung == nil && req.MaxRung == nil {
		apiError(c, http.StatusBadRequest, `give "quality" (`+output.AllowedQualities()+`), "fps" (`+output.AllowedFPS()+`), "layout" (auto, grid, speaker, presenter, single), "pinned", "codec" (`+output.AllowedCodecs()+`), "rung" and/or "max_rung" (`+output.AllowedRungs()+`, or "")`)
		return
	}
	// Each group of settings is checked before any of it changes.
	if req.Codec != nil || req.Rung != nil || req.MaxRung != nil {
		if _, err := r.SetLadder(req.Codec, req.Rung, req.MaxRung); err != nil {
			apiError(c, http.StatusBadRequest, err.Error())
			return
		}
	}
	// The layout is checked first: a refused layout changes nothing.
	if req.Layout != "" || req.Pinned != nil {
		if _, err := r.SetView(req.Layout, req.Pinned); err != nil {
			apiError(c, http.StatusBadRequest, err.Error())
			return
		}
	}
	if req.Quality != "" || req.FPS != 0 {
		if _, err := r.SetSettings(req.Quality, req.FPS); err != nil {
			apiError(c, http.StatusBadRequest, err.Error())
			return
		}
	}
	c.JSON(http.StatusOK, r.Info())
}
