package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/output"
)

const maxNameRunes = 64

var (
	roomPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// conn is one websocket connection. The reader (the ServeHTTP goroutine)
// parses messages and calls the Session; the writer goroutine owns all
// writes. Gorilla itself answers the client's pings and close frames with
// WriteControl, which is safe alongside the writer.
type conn struct {
	srv  *Server
	ws   *websocket.Conn
	log  atomic.Pointer[slog.Logger] // gains room and participant on join
	opts Options

	out        outbox
	done       chan struct{} // closed by stop: the connection is closing
	readerDone chan struct{}
	writerDone chan struct{}

	stopOnce  sync.Once
	closeCode int    // set before done is closed
	closeText string // set before done is closed
	flush     bool   // write queued messages before the close frame

	// claims are the connection's verified token; nil when auth is off.
	claims *auth.Claims

	// Owned by the reader goroutine.
	session   Session
	room      string // the joined room
	leaveOnce sync.Once
	budget    float64   // messages the client may still send now
	budgetAt  time.Time // when budget was last topped up
	offered   bool
	remote    string

	offerTimer *time.Timer // stops a joined connection that never offers
}

// outbox is a connection's send queue. Messages that carry state (the
// layout, the settings, one participant's camera and microphone, one
// recording) replace a queued older message of the same state instead of
// queueing behind it, so other people's actions can never fill a reader's
// queue: only a client that does not read its own events overflows.
type outbox struct {
	mu    sync.Mutex
	items []Message
	keys  map[string]int // coalescing key -> index in items
	ready chan struct{}  // signalled when items is not empty
	limit int
}

func newOutbox(limit int) outbox {
	return outbox{keys: map[string]int{}, ready: make(chan struct{}, 1), limit: limit}
}

// put queues m and reports false when the queue is full.
func (o *outbox) put(m Message) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := coalesceKey(m)
	if i, ok := o.keys[key]; ok && key != "" {
		o.items[i] = m
		return true
	}
	// Events count against the limit; states are bounded by how many
	// things have a state (participants, recordings), within reason.
	if key == "" && len(o.items)-len(o.keys) >= o.limit || key != "" && len(o.keys) >= 4*o.limit {
		return false
	}
	if key != "" {
		o.keys[key] = len(o.items)
	}
	o.items = append(o.items, m)
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued message into buf and returns it.
func (o *outbox) take(buf []Message) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	clear(o.keys)
	return buf
}

// coalesceKey names the state a message carries, or "" for an event that
// must be delivered as it is.
func coalesceKey(m Message) string {
	switch m.Type {
	case TypeLayout, TypeSettings, TypeSpeakers, TypeView:
		return m.Type
	case TypeParticipantUpdated:
		if m.Participant != nil {
			return m.Type + ":" + m.Participant.ID
		}
	case TypeRecording:
		var r struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m.Recording, &r) == nil && r.ID != "" {
			return m.Type + ":" + r.ID
		}
	}
	return ""
}

func newConn(s *Server, ws *websocket.Conn, log *slog.Logger) *conn {
	c := &conn{
		srv:        s,
		ws:         ws,
		opts:       s.opts,
		out:        newOutbox(s.opts.SendQueue),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.log.Store(log)
	return c
}

func (c *conn) logger() *slog.Logger { return c.log.Load() }

// Send queues m for the client; see Sender.
func (c *conn) Send(m Message) {
	if m.Type == TypeJoined && len(c.opts.ICEServers) > 0 && m.ICEServers == nil {
		m.ICEServers = c.opts.ICEServers
	}
	if m.Type == TypeRecording && c.claims != nil {
		m.Recording = c.withDownloadToken(m.Recording)
	}
	select {
	case <-c.done:
		return
	default:
	}
	if !c.out.put(m) {
		c.logger().Warn("closing slow consumer", "queue", c.opts.SendQueue, "type", m.Type)
		c.stop(websocket.ClosePolicyViolation, "send queue full", false)
	}
}

// stop starts closing the connection with the given close status; only the
// first call counts. With flush, messages already queued are written first.
func (c *conn) stop(code int, text string, flush bool) {
	c.stopOnce.Do(func() {
		c.closeCode, c.closeText, c.flush = code, text, flush
		close(c.done)
	})
}

func (c *conn) stopping() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// run serves the connection until it is closed, then makes the session
// leave.
func (c *conn) run(ctx context.Context) {
	go c.writeLoop(ctx)
	c.readLoop()
	c.stop(websocket.CloseNormalClosure, "", false)
	<-c.writerDone
	c.leave()
}

func (c *conn) leave() {
	if c.session == nil {
		return
	}
	c.offerTimer.Stop()
	c.leaveOnce.Do(func() {
		c.session.Leave()
		c.logger().Info("participant left")
	})
}

func (c *conn) readLoop() {
	defer close(c.readerDone)
	limit := c.opts.MaxMessageBytes
	extend := func() error { return c.ws.SetReadDeadline(time.Now().Add(c.opts.PongWait)) }
	_ = extend()
	c.ws.SetPongHandler(func(string) error { return extend() })
	for {
		kind, r, err := c.ws.NextReader()
		if err != nil {
			c.logger().Debug("websocket read ended", "err", err)
			return
		}
		_ = extend()
		// The size limit is enforced here rather than with SetReadLimit so
		// that the too_large error reaches the client before the close
		// frame (gorilla would send its close frame first).
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			c.logger().Debug("websocket read ended", "err", err)
			return
		}
		if c.stopping() {
			continue // discard until the client answers our close frame
		}
		if int64(len(data)) > limit {
			c.sendError(CodeTooLarge, fmt.Sprintf("message exceeds %d bytes", limit))
			c.stop(websocket.CloseMessageTooBig, "message too large", true)
			continue
		}
		if !c.allow() {
			c.sendError(CodeRateLimited, fmt.Sprintf("more than %d messages per second", c.opts.MaxMessagesPerSecond))
			c.stop(websocket.ClosePolicyViolation, "too many messages", true)
			continue
		}
		if kind != websocket.TextMessage {
			c.sendError(CodeBadMessage, "binary messages are not supported")
			continue
		}
		c.handle(data)
	}
}

// withDownloadToken gives a recording event's download_url a short-lived
// token for that recording when this participant may manage the room's
// recordings, so that the link works in a browser.
func (c *conn) withDownloadToken(raw json.RawMessage) json.RawMessage {
	var rec map[string]any
	if json.Unmarshal(raw, &rec) != nil {
		return raw
	}
	id, _ := rec["id"].(string)
	room, _ := rec["room"].(string)
	link, _ := rec["download_url"].(string)
	if id == "" || link == "" || strings.Contains(link, "access_token=") || c.claims.Record(room) != nil {
		return raw
	}
	tok, err := c.opts.Keys.MintDownload(id)
	if err != nil {
		return raw
	}
	rec["download_url"] = link + "?access_token=" + url.QueryEscape(tok)
	b, err := json.Marshal(rec)
	if err != nil {
		return raw
	}
	return b
}

// refuse reports an authentication or authorization failure and closes
// the connection (policy violation).
func (c *conn) refuse(err error) {
	code := CodeUnauthorized
	if errors.Is(err, auth.ErrForbidden) {
		code = CodeForbidden
	}
	c.sendError(code, auth.Reason(err))
	c.stop(websocket.ClosePolicyViolation, code, true)
}

// allow spends one message of the client's budget: MaxMessagesPerSecond,
// with bursts of up to MessageBurst.
func (c *conn) allow() bool {
	now := time.Now()
	if c.budgetAt.IsZero() {
		c.budget = float64(c.opts.MessageBurst)
	} else {
		c.budget = min(float64(c.opts.MessageBurst), c.budget+now.Sub(c.budgetAt).Seconds()*float64(c.opts.MaxMessagesPerSecond))
	}
	c.budgetAt = now
	if c.budget < 1 {
		return false
	}
	c.budget--
	return true
}

func (c *conn) writeLoop(ctx context.Context) {
	defer close(c.writerDone)
	ping := time.NewTicker(c.opts.PingInterval)
	defer ping.Stop()
	ctxDone := ctx.Done()
	var batch []Message
	for {
		select {
		case <-c.out.ready:
			batch = c.out.take(batch)
			for _, m := range batch {
				if err := c.write(m); err != nil {
					c.logger().Debug("websocket write failed", "err", err)
					c.stop(websocket.CloseAbnormalClosure, "", false)
					c.ws.Close()
					return
				}
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteWait)); err != nil {
				c.logger().Debug("websocket ping failed", "err", err)
				c.stop(websocket.CloseAbnormalClosure, "", false)
				c.ws.Close()
				return
			}
		case <-ctxDone:
			ctxDone = nil
			c.stop(websocket.CloseGoingAway, "server shutting down", false)
		case <-c.done:
			c.finish()
			return
		}
	}
}

// finish flushes if asked, sends the close frame, gives the client a moment
// to answer it (closing a socket with unread data would reset it and could
// lose what we just wrote), and closes the socket.
func (c *conn) finish() {
	defer c.ws.Close()
	if c.flush {
		for _, m := range c.out.take(nil) {
			if err := c.write(m); err != nil {
				return
			}
		}
	}
	grace := min(c.opts.WriteWait, time.Second)
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(grace))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
}

func (c *conn) write(m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		// A bad payload from the room layer; drop it, keep the connection.
		c.logger().Error("encoding message", "type", m.Type, "err", err)
		return nil
	}
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteWait)); err != nil {
		return fmt.Errorf("signaling: setting write deadline: %w", err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("signaling: writing %s message: %w", m.Type, err)
	}
	return nil
}

func (c *conn) sendError(code, msg string) {
	c.Send(Message{Type: TypeError, Code: code, Message: msg})
}

// replyError reports a Backend or Session error to the client.
func (c *conn) replyError(op string, err error) {
	var rd *Redirect
	if errors.As(err, &rd) {
		c.logger().Debug("join redirected", "to", rd.URL)
		c.Send(Message{Type: TypeRedirect, URL: rd.WebsocketURL()})
		c.stop(websocket.CloseNormalClosure, "redirect", true)
		return
	}
	var pe *Error
	if errors.As(err, &pe) {
		c.logger().Debug("request refused", "op", op, "code", pe.Code, "err", err)
		c.sendError(pe.Code, pe.Message)
		return
	}
	c.logger().Warn("request failed", "op", op, "err", err)
	c.sendError(CodeInternal, fmt.Sprintf("%s: %v", op, err))
}

func (c *conn) handle(data []byte) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		c.sendError(CodeBadMessage, "invalid JSON: "+err.Error())
		return
	}
	switch m.Type {
	case "":
		c.sendError(CodeBadMessage, "type: required")
		return
	case TypePing:
		c.Send(Message{Type: TypePong})
		return
	case TypeJoin:
		c.join(m)
		return
	case TypeOffer, TypeAnswer, TypeCandidate, TypeSettings, TypeMute, TypeShare, TypeView, TypeLeave:
	default:
		c.sendError(CodeUnknownType, fmt.Sprintf("unknown message type %q", m.Type))
		return
	}
	if c.session == nil {
		c.sendError(CodeNotJoined, m.Type+": join a room first")
		return
	}
	switch m.Type {
	case TypeOffer:
		if m.SDP == "" {
			c.sendError(CodeBadMessage, "sdp: required")
			return
		}
		answer, err := c.session.Offer(m.SDP)
		if err != nil {
			c.replyError("offer", err)
			return
		}
		if !c.offered {
			c.offered = true
			c.offerTimer.Stop()
		}
		c.Send(Message{Type: TypeAnswer, SDP: answer})
	case TypeAnswer:
		if m.SDP == "" {
			c.sendError(CodeBadMessage, "sdp: required")
			return
		}
		if err := c.session.Answer(m.SDP); err != nil {
			c.replyError("answer", err)
		}
	case TypeCandidate:
		if m.Candidate == nil {
			c.sendError(CodeBadMessage, "candidate: required")
			return
		}
		if err := c.session.AddCandidate(*m.Candidate); err != nil {
			c.replyError("candidate", err)
		}
	case TypeSettings:
		c.settings(m)
	case TypeMute:
		if m.Video == nil && m.Audio == nil {
			c.sendError(CodeBadMessage, "video or audio: required")
			return
		}
		if err := c.session.SetMuted(m.Video, m.Audio); err != nil {
			c.replyError("mute", err)
		}
	case TypeShare:
		if m.Screen == nil {
			c.sendError(CodeBadMessage, "screen: required")
			return
		}
		if err := c.session.SetScreen(*m.Screen); err != nil {
			c.replyError("share", err)
		}
	case TypeView:
		// Like the output settings, the layout is the operator's: with
		// access tokens it needs roomAdmin.
		if c.claims != nil {
			if err := c.claims.Admin(c.room); err != nil {
				c.refuse(err)
				return
			}
		}
		if m.LayoutMode == "" && m.Pinned == nil {
			c.sendError(CodeBadMessage, "layout_mode or pinned: required")
			return
		}
		if err := c.session.SetView(m.LayoutMode, m.Pinned); err != nil {
			c.replyError("view", err)
		}
	case TypeLeave:
		c.leave()
		c.stop(websocket.CloseNormalClosure, "left", true)
	}
}

func (c *conn) join(m Message) {
	if c.session != nil {
		c.sendError(CodeAlreadyJoined, "this connection has already joined a room")
		return
	}
	if c.claims != nil {
		// The token decides the room when the message names none, and the
		// display name always: a participant cannot pose as someone else.
		if m.Room == "" && c.claims.Video != nil {
			m.Room = c.claims.Video.Room
		}
		if err := c.claims.Join(m.Room); err != nil {
			c.refuse(err)
			return
		}
		m.Name = c.claims.Name
		if strings.TrimSpace(m.Name) == "" {
			m.Name = c.claims.Identity()
		}
	}
	name := strings.TrimSpace(m.Name)
	switch {
	case m.Room == "":
		c.sendError(CodeBadRequest, "room: required")
		return
	case !roomPattern.MatchString(m.Room):
		c.sendError(CodeBadRequest, "room: must be 1-64 of A-Z a-z 0-9 _ -")
		return
	case name == "":
		c.sendError(CodeBadRequest, "name: required")
		return
	case utf8.RuneCountInString(name) > maxNameRunes:
		c.sendError(CodeBadRequest, fmt.Sprintf("name: longer than %d characters", maxNameRunes))
		return
	case strings.ContainsFunc(name, unicode.IsControl):
		c.sendError(CodeBadRequest, "name: contains control characters")
		return
	}
	if !c.srv.joins.Allow(c.remote, time.Now()) {
		c.sendError(CodeRateLimited, fmt.Sprintf("more than %d joins per minute from this address", c.opts.JoinsPerMinute))
		return
	}
	opts := JoinOptions{ReceiveOnly: m.ReceiveOnly}
	if c.claims != nil {
		// canPublish=false in the token makes a receive-only join whatever
		// the message asks.
		opts.ReceiveOnly = opts.ReceiveOnly || !c.claims.CanPublish()
		opts.PublishOnly = !c.claims.CanSubscribe()
		if opts.ReceiveOnly && opts.PublishOnly {
			c.sendError(CodeForbidden, "the token grants neither canPublish nor canSubscribe")
			return
		}
		opts.Identity = c.claims.Identity()
	}
	s, err := c.srv.backend.Join(m.Room, name, opts, c)
	if err != nil {
		c.replyError("join", err)
		return
	}
	if s == nil {
		c.replyError("join", errors.New("backend returned no session"))
		return
	}
	c.session, c.room = s, m.Room
	c.offerTimer = time.AfterFunc(c.opts.OfferTimeout, func() {
		c.sendError(CodeTimeout, fmt.Sprintf("no offer within %v of joining", c.opts.OfferTimeout))
		c.stop(websocket.ClosePolicyViolation, "no offer", true)
	})
	c.log.Store(c.logger().With("room", m.Room, "participant", s.ID()))
	c.logger().Info("participant joined", "name", name)
}

func (c *conn) settings(m Message) {
	if c.claims != nil {
		if err := c.claims.Admin(c.room); err != nil {
			c.refuse(err)
			return
		}
	}
	switch {
	case m.Quality == "" && m.FPS == 0:
		c.sendError(CodeBadMessage, "quality or fps: required")
		return
	}
	if m.Quality != "" {
		if _, err := output.ParseQuality(m.Quality); err != nil {
			c.sendError(CodeBadRequest, "quality: "+err.Error())
			return
		}
	}
	if m.FPS != 0 {
		if _, err := output.ParseFPS(m.FPS); err != nil {
			c.sendError(CodeBadRequest, "fps: "+err.Error())
			return
		}
	}
	if err := c.session.SetSettings(m.Quality, m.FPS); err != nil {
		c.replyError("settings", err)
	}
}
