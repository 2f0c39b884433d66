package signaling

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
)

// Sender delivers server→client messages to one connection. Send never
// blocks: it queues, and a connection whose queue is full is closed (slow
// consumer). Send on a closed connection does nothing. It is safe for
// concurrent use.
type Sender interface {
	Send(Message)
}

// Backend is the room layer.
type Backend interface {
	// Join admits a participant into room under the display name; out
	// receives that participant's events. Join sends the "joined" message
	// on out before any other event for the participant, since only the room
	// layer knows the participant list and settings. Errors may be *Error
	// (room_full, bad_request, ...).
	Join(room, name string, opts JoinOptions, out Sender) (Session, error)
}

// JoinOptions are how a participant takes part in a room.
type JoinOptions struct {
	// ReceiveOnly participants publish nothing: they have no tile and no
	// voice in the mix, and only receive the composite and the mix.
	ReceiveOnly bool
	// PublishOnly participants receive nothing (a token with
	// canSubscribe=false): their tile and voice are in the room, but no
	// composite or mix is sent to them.
	PublishOnly bool
	// Identity is the access token's subject; empty when auth is off.
	Identity string
}

// Session is one joined participant as seen by its connection. The server
// calls its methods from the connection's reader goroutine, one at a time.
type Session interface {
	// ID returns the participant's ID.
	ID() string
	// Offer applies the client's offer and returns the server's answer.
	Offer(sdp string) (answer string, err error)
	// Answer applies the client's answer to an offer the server sent.
	Answer(sdp string) error
	// AddCandidate adds a remote ICE candidate sent by the client.
	AddCandidate(c webrtc.ICECandidateInit) error
	// SetSettings changes the room's output settings. quality is "",
	// "360p", "480p" or "720p" and fps is 0, 15 or 30; "" and 0 leave that
	// setting unchanged (the server ensures at least one is set). The room
	// layer announces the new settings with a "settings" event.
	SetSettings(quality string, fps int) error
	// SetMuted turns the participant's camera or microphone off (true) or
	// on (false); nil leaves that one as it is. A muted camera shows the
	// participant's placeholder at once instead of a black picture.
	SetMuted(video, audio *bool) error
	// SetScreen says the participant's video is a screen share (true) or
	// its camera (false): the presenter layout shows a share large.
	SetScreen(on bool) error
	// SetView changes the room's layout ("" keeps it) and pinned
	// participant (nil keeps it, "" unpins); the room layer announces it
	// with a "view" event.
	SetView(layout string, pinned *string) error
	// Leave removes the participant from its room. The server calls it
	// exactly once, on "leave" or when the connection closes.
	Leave()
}

// Options tunes a Server. Zero fields take their defaults.
type Options struct {
	// MaxMessageBytes is the largest client message accepted (default
	// 64 KiB). A larger one is answered with a too_large error, then the
	// connection is closed with status 1009.
	MaxMessageBytes int64
	// PingInterval is how often the server pings the client (default 20s).
	// It is lowered to 9/10 of PongWait if not shorter than it.
	PingInterval time.Duration
	// PongWait is how long the server waits for any frame, pongs included,
	// before it drops the connection (default 60s).
	PongWait time.Duration
	// WriteWait bounds each write to the client (default 10s).
	WriteWait time.Duration
	// SendQueue is the number of messages queued per connection before it
	// is closed as a slow consumer (default 64). State messages (layout,
	// settings, a participant's mute state, a recording) replace their
	// queued older version instead of taking a place.
	SendQueue int
	// MaxMessagesPerSecond a client may send on average (default 20), in
	// bursts of up to MessageBurst (default 50); past that it gets a
	// rate_limited error and the connection is closed.
	MaxMessagesPerSecond int
	MessageBurst         int
	// JoinsPerMinute bounds the joins from one IP address (default 60);
	// more get a rate_limited error.
	JoinsPerMinute int
	// OfferTimeout is how long a joined connection may take to send its
	// first offer (default 15 s); then it gets a timeout error and is
	// closed, so idle sockets cannot hold places in a room.
	OfferTimeout time.Duration
	// CheckOrigin approves the upgrade request's Origin (default:
	// AllowOrigins(nil), no Origin or the server's own origin).
	CheckOrigin func(*http.Request) bool
	// Keys verifies each connection's access token (the access_token query
	// parameter, or an Authorization: Bearer header); nil admits everyone
	// with every right (development, -insecure-no-auth).
	Keys *auth.Keys
	// Limiter slows down addresses that keep presenting bad tokens; nil
	// answers at once.
	Limiter *auth.Limiter
	// ICEServers (STUN/TURN, with credentials) are handed to each client in
	// its joined message, so that clients behind strict NATs can relay.
	ICEServers []webrtc.ICEServer
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 64 << 10
	}
	if o.PongWait <= 0 {
		o.PongWait = 60 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.PingInterval >= o.PongWait {
		o.PingInterval = o.PongWait * 9 / 10
	}
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 64
	}
	if o.MaxMessagesPerSecond <= 0 {
		o.MaxMessagesPerSecond = 20
	}
	if o.MessageBurst <= 0 {
		o.MessageBurst = 50
	}
	if o.JoinsPerMinute <= 0 {
		o.JoinsPerMinute = 60
	}
	if o.OfferTimeout <= 0 {
		o.OfferTimeout = 15 * time.Second
	}
	if o.CheckOrigin == nil {
		o.CheckOrigin = AllowOrigins(nil)
	}
	return o
}

// Server serves the websocket protocol. Mount it at /ws.
type Server struct {
	backend  Backend
	log      *slog.Logger
	opts     Options
	upgrader websocket.Upgrader

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	joins  *AddressRate
	wg     sync.WaitGroup // one per running ServeHTTP
}

// NewServer returns a Server that admits participants through b. A nil log
// discards logging.
func NewServer(b Backend, log *slog.Logger, opts Options) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	return &Server{
		backend:  b,
		log:      log,
		opts:     opts,
		upgrader: websocket.Upgrader{CheckOrigin: opts.CheckOrigin},
		conns:    make(map[*conn]struct{}),
		joins:    NewAddressRate(opts.JoinsPerMinute),
	}
}

// ServeHTTP upgrades the request to a websocket and runs the connection
// until it closes, the request's context is done or the Server is closed.
// After Close it answers 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	// The token is checked before the upgrade, so that nothing is kept for
	// a refused client, but refused after it: a browser sees only that a
	// websocket failed, never the HTTP status.
	claims, authErr := s.authenticate(r)
	ws, err := s.upgrader.Upgrade(w, r, nil) // writes the HTTP error itself
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := newConn(s, ws, s.log.With("remote", r.RemoteAddr))
	c.claims = claims
	if authErr != nil {
		c.logger().Info("websocket refused", "err", authErr)
		c.refuse(authErr)
	}
	c.remote = r.RemoteAddr

	s.mu.Lock()
	if s.closed {
		c.stop(websocket.CloseGoingAway, "server shutting down", false)
	} else {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()

	c.run(r.Context())

	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// authenticate verifies the request's token when Keys are set. A failure
// is answered only after the Limiter's delay for the address.
func (s *Server) authenticate(r *http.Request) (*auth.Claims, error) {
	if s.opts.Keys == nil {
		return nil, nil
	}
	token := r.URL.Query().Get("access_token")
	if token == "" {
		token = auth.BearerToken(r)
	}
	claims, err := s.opts.Keys.Verify(token)
	if err != nil {
		if s.opts.Limiter != nil {
			s.opts.Limiter.Wait(r.Context(), r.RemoteAddr)
		}
		return nil, err
	}
	return claims, nil
}

// Close closes every connection and waits until their goroutines have
// returned and their sessions have left. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.stop(websocket.CloseGoingAway, "server shutting down", false)
	}
	s.wg.Wait()
}

// AllowOrigins returns an Origin check that accepts requests without an
// Origin (non-browser clients), from a page of the server's own origin (the
// Origin's host equals the request's Host), and from the listed origins
// ("https://app.example:8443", compared without regard to case). "*" in
// the list accepts every origin.
func AllowOrigins(origins []string) func(*http.Request) bool {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || allowed["*"] {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		return strings.EqualFold(u.Host, r.Host) || allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
	}
}
