package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/signaling"
)

// Access is what a WHIP or WHEP request asks to do in a room.
type Access int

// The two kinds of access.
const (
	// Publish is a WHIP publisher: a tile and a voice in the room.
	Publish Access = iota
	// Subscribe is a WHEP viewer of the composite and the full mix.
	Subscribe
)

// ErrForbidden is returned (wrapped or not) by an Authorize func whose
// caller is known but may not do what it asks: the answer is 403, where any
// other error is 401.
var ErrForbidden = errors.New("web: not allowed")

// Authorize decides whether a WHIP or WHEP request (its Authorization
// header, typically "Bearer <token>") may publish to or watch room. It
// returns the display name to use ("" leaves the choice to ?name=). It is
// called on the POST that creates a session and on the PATCH and DELETE of
// that session.
type Authorize func(r *http.Request, room string, access Access) (name string, err error)

const (
	sdpType     = "application/sdp"
	sdpFragType = "application/trickle-ice-sdpfrag"
	maxNameLen  = 64
)

var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// mediaEndpoints serve WHIP (RFC 9725) publishers at /whip/{room} and WHEP
// viewers at /whep/{room}. Each POST makes a session, a participant of the
// room; its resource /whip/{room}/{id} takes trickled candidates (PATCH)
// and ends it (DELETE).
type mediaEndpoints struct {
	backend   signaling.Backend
	authorize Authorize
	log       *slog.Logger
	// starts bounds the sessions one address may open per minute: each
	// costs a PeerConnection, so a flood of POSTs is refused early.
	starts *signaling.AddressRate
	links  []string // Link header values naming the ICE servers
	self   string   // in a cluster, this node's base URL for Location

	mu       sync.Mutex
	sessions map[string]*mediaSession
}

type mediaSession struct {
	id, room string
	access   Access
	etag     string
	ufrag    string // the client's ICE username fragment from its offer

	mu   sync.Mutex // Session methods are called one at a time
	sess signaling.Session
}

func (a Access) path() string {
	if a == Publish {
		return "/whip/"
	}
	return "/whep/"
}

func (e *mediaEndpoints) routes(g *gin.Engine) {
	for _, a := range []Access{Publish, Subscribe} {
		base := a.path()
		g.OPTIONS(base+":room", cors("OPTIONS, POST"), e.options("OPTIONS, POST"))
		g.POST(base+":room", cors("OPTIONS, POST"), e.create(a))
		g.OPTIONS(base+":room/:id", cors("OPTIONS, PATCH, DELETE"), e.options("OPTIONS, PATCH, DELETE"))
		g.PATCH(base+":room/:id", cors("OPTIONS, PATCH, DELETE"), e.patch(a))
		g.DELETE(base+":room/:id", cors("OPTIONS, PATCH, DELETE"), e.remove(a))
	}
}

// cors lets browser WHIP/WHEP clients of any origin in. Access is granted
// by the bearer token, never by cookies (none is set, and credentials are
// not allowed), so a foreign page gains nothing it could not do directly.
func cors(methods string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch")
		h.Set("Access-Control-Max-Age", "600")
		c.Next()
	}
}

func (e *mediaEndpoints) options(methods string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Allow", methods)
		c.Header("Accept-Patch", sdpFragType)
		c.Status(http.StatusNoContent)
	}
}

func textError(c *gin.Context, status int, msg string) {
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.String(status, "%s\n", msg)
	c.Abort()
}

// authorized runs the Authorize hook and answers 401 or 403 on refusal.
func (e *mediaEndpoints) authorized(c *gin.Context, room string, a Access) (string, bool) {
	if e.authorize == nil {
		return "", true
	}
	name, err := e.authorize(c.Request, room, a)
	switch {
	case err == nil:
		return name, true
	case errors.Is(err, ErrForbidden):
		textError(c, http.StatusForbidden, err.Error())
	default:
		c.Header("WWW-Authenticate", `Bearer realm="mcu"`)
		textError(c, http.StatusUnauthorized, err.Error())
	}
	return "", false
}

func hasType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

// create is POST /whip/{room} and /whep/{room}: the body is the client's
// offer, the answer comes back with the session's Location.
func (e *mediaEndpoints) create(a Access) gin.HandlerFunc {
	return func(c *gin.Context) {
		room := c.Param("room")
		if !roomName.MatchString(room) {
			textError(c, http.StatusBadRequest, "room: must be 1-64 of A-Z a-z 0-9 _ -")
			return
		}
		if !hasType(c.Request, sdpType) {
			textError(c, http.StatusUnsupportedMediaType, "send the offer as Content-Type: "+sdpType)
			return
		}
		name, ok := e.authorized(c, room, a)
		if !ok {
			return
		}
		if !e.starts.Allow(c.Request.RemoteAddr, time.Now()) {
			c.Header("Retry-After", "60")
			textError(c, http.StatusTooManyRequests, fmt.Sprintf("at most %d sessions a minute from one address", e.starts.PerMinute()))
			return
		}
		if name == "" {
			name = strings.TrimSpace(c.Query("name"))
		}
		if name == "" {
			name = map[Access]string{Publish: "WHIP", Subscribe: "viewer"}[a]
		}
		if utf8.RuneCountInString(name) > maxNameLen || strings.ContainsFunc(name, unicode.IsControl) {
			textError(c, http.StatusBadRequest, fmt.Sprintf("name: at most %d characters, no control characters", maxNameLen))
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				textError(c, http.StatusRequestEntityTooLarge, "the offer is too large")
				return
			}
			textError(c, http.StatusBadRequest, "reading the offer: "+err.Error())
			return
		}
		offer := string(body)
		if strings.TrimSpace(offer) == "" {
			textError(c, http.StatusBadRequest, "the body must be an SDP offer")
			return
		}
		sess, err := e.backend.Join(room, name, signaling.JoinOptions{ReceiveOnly: a == Subscribe}, discard{})
		var rd *signaling.Redirect
		if errors.As(err, &rd) {
			// The room is on another node of the cluster: the client
			// posts the same offer there.
			c.Redirect(http.StatusTemporaryRedirect, strings.TrimSuffix(rd.URL, "/")+c.Request.URL.RequestURI())
			return
		}
		if err != nil {
			e.fail(c, err)
			return
		}
		answer, err := sess.Offer(offer)
		if err != nil {
			sess.Leave()
			e.fail(c, err)
			return
		}
		ms := &mediaSession{id: randomHex(16), room: room, access: a, etag: `"` + randomHex(8) + `"`, ufrag: signaling.ICEUfrag(offer), sess: sess}
		e.mu.Lock()
		e.sessions[ms.id] = ms
		e.mu.Unlock()
		if d, ok := sess.(interface{ Done() <-chan struct{} }); ok {
			go func() { // the connection may fail without a DELETE
				<-d.Done()
				e.forget(ms)
			}()
		}
		e.log.Info("http media session", "kind", strings.Trim(a.path(), "/"), "room", room, "participant", sess.ID(), "name", name)
		c.Header("Location", e.self+a.path()+url.PathEscape(room)+"/"+ms.id)
		c.Header("ETag", ms.etag)
		c.Header("Accept-Patch", sdpFragType)
		e.addLinks(c)
		c.Data(http.StatusCreated, sdpType, []byte(answer))
	}
}

// iceLinks writes each STUN/TURN URL as a Link header value, with the
// credentials of TURN servers.
func iceLinks(servers []webrtc.ICEServer) []string {
	var out []string
	for _, s := range servers {
		for _, u := range s.URLs {
			v := "<" + u + `>; rel="ice-server"`
			if cred, ok := s.Credential.(string); ok && s.Username != "" {
				v += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, s.Username, cred)
			}
			out = append(out, v)
		}
	}
	return out
}

// addLinks names the ICE servers on an authorized answer only: OPTIONS is
// unauthenticated, and TURN credentials are not for everyone.
func (e *mediaEndpoints) addLinks(c *gin.Context) {
	for _, l := range e.links {
		c.Writer.Header().Add("Link", l)
	}
}

// fail answers a join or offer error with its HTTP status.
func (e *mediaEndpoints) fail(c *gin.Context, err error) {
	var se *signaling.Error
	if !errors.As(err, &se) {
		e.log.Error("http media session", "err", err)
		textError(c, http.StatusInternalServerError, "internal error")
		return
	}
	status := http.StatusBadRequest
	switch se.Code {
	case signaling.CodeRoomFull, signaling.CodeServerFull, signaling.CodeShuttingDown, signaling.CodeRateLimited:
		status = http.StatusServiceUnavailable
		c.Header("Retry-After", "5")
	case signaling.CodeInternal:
		status = http.StatusInternalServerError
	}
	textError(c, status, se.Code+": "+se.Message)
}

// session finds the session named in the URL, answering 404 when there is
// none (or it belongs to the other endpoint or room).
func (e *mediaEndpoints) session(c *gin.Context, a Access) *mediaSession {
	e.mu.Lock()
	ms := e.sessions[c.Param("id")]
	e.mu.Unlock()
	if ms == nil || ms.access != a || ms.room != c.Param("room") {
		textError(c, http.StatusNotFound, "no such session")
		return nil
	}
	return ms
}

func (e *mediaEndpoints) forget(ms *mediaSession) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessions[ms.id] == ms {
		delete(e.sessions, ms.id)
	}
}

// remove is DELETE on a session: the participant leaves.
func (e *mediaEndpoints) remove(a Access) gin.HandlerFunc {
	return func(c *gin.Context) {
		ms := e.session(c, a)
		if ms == nil {
			return
		}
		if _, ok := e.authorized(c, ms.room, a); !ok {
			return
		}
		e.forget(ms)
		ms.mu.Lock()
		ms.sess.Leave()
		ms.mu.Unlock()
		c.Status(http.StatusOK)
	}
}

// patch takes trickled ICE candidates (RFC 8840 SDP fragments). ICE
// restarts are not supported: a fragment with new credentials gets 422, as
// RFC 9725 asks of a server that trickles but does not restart.
func (e *mediaEndpoints) patch(a Access) gin.HandlerFunc {
	return func(c *gin.Context) {
		ms := e.session(c, a)
		if ms == nil {
			return
		}
		if _, ok := e.authorized(c, ms.room, a); !ok {
			return
		}
		if !hasType(c.Request, sdpFragType) {
			textError(c, http.StatusUnsupportedMediaType, "send candidates as Content-Type: "+sdpFragType)
			return
		}
		if m := c.GetHeader("If-Match"); m != "" && m != "*" && m != ms.etag {
			textError(c, http.StatusPreconditionFailed, "If-Match does not match the session's ETag")
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			textError(c, http.StatusBadRequest, "reading the fragment: "+err.Error())
			return
		}
		frag, err := parseFragment(string(body))
		if err != nil {
			textError(c, http.StatusBadRequest, err.Error())
			return
		}
		if frag.ufrag != "" && frag.ufrag != ms.ufrag {
			textError(c, http.StatusUnprocessableEntity, "ICE restarts are not supported: make a new session")
			return
		}
		ms.mu.Lock()
		defer ms.mu.Unlock()
		for _, cand := range frag.candidates {
			if err := ms.sess.AddCandidate(cand); err != nil {
				textError(c, http.StatusBadRequest, err.Error())
				return
			}
		}
		c.Status(http.StatusNoContent)
	}
}

// fragment is what a trickle-ice-sdpfrag body holds that we use.
type fragment struct {
	ufrag      string
	candidates []webrtc.ICECandidateInit
}

// parseFragment reads the candidates of an SDP fragment, each with the mid
// of the media section it follows (RFC 8840).
func parseFragment(s string) (fragment, error) {
	var f fragment
	var mid *string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "m="):
			mid = nil
		case strings.HasPrefix(line, "a=mid:"):
			m := strings.TrimPrefix(line, "a=mid:")
			mid = &m
		case strings.HasPrefix(line, "a=candidate:"):
			if len(f.candidates) >= 100 {
				return f, errors.New("too many candidates in one fragment")
			}
			f.candidates = append(f.candidates, webrtc.ICECandidateInit{Candidate: strings.TrimPrefix(line, "a="), SDPMid: mid})
		}
	}
	return f, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// discard is the event sink of HTTP sessions: WHIP and WHEP clients have
// no channel for room events.
type discard struct{}

func (discard) Send(signaling.Message) {}
