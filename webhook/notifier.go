package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ContentType is the Content-Type of every webhook request, as LiveKit's.
const ContentType = "application/webhook+json"

// tokenValidity is how long a signature stays valid; LiveKit uses 5 minutes.
const tokenValidity = 5 * time.Minute

// Counters receives delivery outcomes; *metrics.Metrics implements it.
type Counters interface {
	WebhookDelivered()
	WebhookFailed()
	WebhookDropped()
}

// Options configures a Notifier.
type Options struct {
	URLs      []string
	APIKey    string // the token's issuer
	APISecret string // signs the token
	// QueueSize bounds the events waiting per URL; more are dropped and
	// counted. Default 256.
	QueueSize int
	// Attempts is how many times one event is tried. Default 6.
	Attempts int
	// Backoff is the wait before the first retry, doubled each time up to
	// 30 s. Default 1 s.
	Backoff time.Duration
	// Timeout bounds one request. Default 10 s.
	Timeout  time.Duration
	Client   *http.Client
	Counters Counters
	Log      *slog.Logger
}

// Notifier delivers events to every URL, each URL in the order of Notify
// calls, one request at a time.
type Notifier struct {
	o       Options
	targets []*target
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type target struct {
	url   string
	queue chan queued
}

type queued struct {
	name, id string
	body     []byte
}

// New starts one delivery goroutine per URL. A Notifier without URLs (or a
// nil one) accepts events and drops them silently.
func New(o Options) *Notifier {
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	n := &Notifier{o: o}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, u := range o.URLs {
		t := &target{url: u, queue: make(chan queued, o.QueueSize)}
		n.targets = append(n.targets, t)
		n.wg.Add(1)
		go n.deliver(t)
	}
	return n
}

// Notify queues e for every URL and returns at once. A missing id or time
// is filled in. When a URL's queue is full the event is dropped for it,
// counted and logged.
func (n *Notifier) Notify(e Event) {
	if n == nil || len(n.targets) == 0 {
		return
	}
	if e.ID == "" || e.CreatedAt == 0 {
		fresh := NewEvent(e.Event)
		if e.ID == "" {
			e.ID = fresh.ID
		}
		if e.CreatedAt == 0 {
			e.CreatedAt = fresh.CreatedAt
		}
	}
	body, err := json.Marshal(e)
	if err != nil {
		n.o.Log.Error("webhook: encoding event", "event", e.Event, "err", err)
		return
	}
	q := queued{name: e.Event, id: e.ID, body: body}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return
	}
	for _, t := range n.targets {
		select {
		case t.queue <- q:
		default:
			n.count(Counters.WebhookDropped)
			n.o.Log.Warn("webhook: queue full, event dropped", "url", t.url, "event", q.name, "id", q.id)
		}
	}
}

// Close stops accepting events and delivers what is queued until ctx ends;
// then it abandons the rest (counted as failed).
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, t := range n.targets {
			close(t.queue)
		}
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return fmt.Errorf("webhook: closing with events undelivered: %w", ctx.Err())
	}
}

func (n *Notifier) count(f func(Counters)) {
	if n.o.Counters != nil {
		f(n.o.Counters)
	}
}

func (n *Notifier) deliver(t *target) {
	defer n.wg.Done()
	for q := range t.queue {
		if n.ctx.Err() != nil {
			n.count(Counters.WebhookFailed)
			continue
		}
		n.send(t.url, q)
	}
}

// send tries q until it is accepted, refused for good, or out of attempts.
func (n *Notifier) send(url string, q queued) {
	wait := n.o.Backoff
	var err error
	for attempt := 1; attempt <= n.o.Attempts; attempt++ {
		var retry bool
		retry, err = n.post(url, q.body)
		if err == nil {
			n.count(Counters.WebhookDelivered)
			n.o.Log.Debug("webhook: delivered", "url", url, "event", q.name, "id", q.id, "attempt", attempt)
			return
		}
		if !retry || attempt == n.o.Attempts {
			break
		}
		n.o.Log.Info("webhook: delivery failed, retrying", "url", url, "event", q.name, "id", q.id, "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.ctx.Done():
			timer.Stop()
			err = n.ctx.Err()
			attempt = n.o.Attempts
		}
		wait = min(2*wait, 30*time.Second)
	}
	n.count(Counters.WebhookFailed)
	n.o.Log.Warn("webhook: event not delivered", "url", url, "event", q.name, "id", q.id, "err", err)
}

// errRefused is a 4xx answer other than 408 and 429: retrying cannot help.
var errRefused = errors.New("refused")

// post sends body once; retry says whether another attempt may succeed.
func (n *Notifier) post(url string, body []byte) (retry bool, err error) {
	token, err := Sign(body, n.o.APIKey, n.o.APISecret, time.Now())
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook: request: %w", err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Authorization", token)
	res, err := n.o.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: posting: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	switch {
	case res.StatusCode < 300:
		return false, nil
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return true, fmt.Errorf("webhook: receiver answered %s", res.Status)
	}
	return false, fmt.Errorf("webhook: receiver answered %s: %w", res.Status, errRefused)
}

// Claims are the JWT claims of a webhook signature: LiveKit's layout, where
// the issuer is the API key and sha256 the base64 SHA-256 of the body.
type Claims struct {
	jwt.RegisteredClaims
	SHA256 string `json:"sha256"`
}

// Sign returns the Authorization value for body: an HS256 JWT issued by
// apiKey, valid from now for five minutes.
func Sign(body []byte, apiKey, apiSecret string, now time.Time) (string, error) {
	if apiKey == "" || apiSecret == "" {
		return "", errors.New("webhook: signing needs an API key and secret")
	}
	sum := sha256.Sum256(body)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    apiKey,
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(tokenValidity)),
		},
		SHA256: base64.StdEncoding.EncodeToString(sum[:]),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(apiSecret))
	if err != nil {
		return "", fmt.Errorf("webhook: signing: %w", err)
	}
	return s, nil
}
