// Package metrics exports the server's Prometheus metrics (all named mcu_*)
// from its own registry. Room code holds a *Room handle per room and a
// *Recording per recording; RTP bytes, NACKs and PLIs are counted by a pion
// interceptor (Interceptor). Every method is safe on a nil receiver, so code
// and tests without metrics pass nil. Updates are atomic adds on cached
// series: cheap enough for media loops.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Directions of the direction label.
const (
	In  = "in"
	Out = "out"
)

// Metrics owns the registry and every metric of one server.
type Metrics struct {
	reg *prometheus.Registry

	rooms, participants                                prometheus.Gauge
	roomsTotal, participantsTotal                      prometheus.Counter
	roomParticipants, roomFPS                          *prometheus.GaugeVec
	roomFramesDropped                                  *prometheus.CounterVec
	encodeSeconds, compositeSeconds, latencySeconds    prometheus.Histogram
	decodeErrors, keyframes, packetsLost               prometheus.Counter
	rungSwitches                                       prometheus.Counter
	plis, nacks, bytes                                 *prometheus.CounterVec
	recordingsActive                                   prometheus.Gauge
	recordingsTotal, recordingsFailed, recordingBytes  prometheus.Counter
	webhookDeliveries, webhookFailures, webhookDropped prometheus.Counter
	draining, diskFree                                 prometheus.Gauge

	mu        sync.Mutex
	roomNames map[string]int // open handles per room label, so a reopened room keeps its series
}

// New returns metrics registered in a fresh registry, with the Go runtime
// and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg, roomNames: map[string]int{}}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		f(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		f(c)
		return c
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
		f(h)
		return h
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		f(g)
		return g
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		f(c)
		return c
	}
	m.rooms = gauge("mcu_rooms", "Rooms open now.")
	m.participants = gauge("mcu_participants", "Participants connected now, all rooms.")
	m.roomsTotal = counter("mcu_rooms_created_total", "Rooms opened since start.")
	m.participantsTotal = counter("mcu_participants_joined_total", "Participants joined since start.")
	m.roomParticipants = gaugeVec("mcu_room_participants", "Participants in the room now; the series goes when the room closes.", "room")
	m.roomFPS = gaugeVec("mcu_room_output_fps", "Frames per second the room's output achieved over the last second.", "room")
	m.roomFramesDropped = counterVec("mcu_room_frames_dropped_total", "Output frames the room's clock could not produce or deliver in time.", "room")
	m.encodeSeconds = histogram("mcu_encode_seconds", "Time to encode one output frame.", prometheus.ExponentialBuckets(0.0005, 2, 12))
	m.compositeSeconds = histogram("mcu_composite_seconds", "Time to composite one output frame (scaling and drawing tiles).", prometheus.ExponentialBuckets(0.0005, 2, 12))
	m.latencySeconds = histogram("mcu_added_latency_seconds", "Time a picture spends in the server, from its last RTP packet in to its encoded frame out.", prometheus.ExponentialBuckets(0.005, 1.6, 12))
	m.decodeErrors = counter("mcu_decode_errors_total", "Incoming frames that failed to decode.")
	m.keyframes = counter("mcu_keyframes_total", "Keyframes forced in room outputs (receivers' PLIs, new receivers and recordings).")
	m.rungSwitches = counter("mcu_rung_switches_total", "Receivers moved from one rung of a room's rendition ladder to another.")
	m.packetsLost = counter("mcu_packets_lost_total", "Incoming RTP packets lost (sequence gaps).")
	m.plis = counterVec("mcu_plis_total", "Picture loss indications: in from receivers of the output, out to publishers.", "direction")
	m.nacks = counterVec("mcu_nacks_total", "NACKed packets: in from receivers of the output, out to publishers.", "direction")
	m.bytes = counterVec("mcu_bytes_total", "RTP payload bytes: in from publishers, out to receivers.", "direction")
	m.recordingsActive = gauge("mcu_recordings_active", "Recordings running now.")
	m.recordingsTotal = counter("mcu_recordings_started_total", "Recordings started since start.")
	m.recordingsFailed = counter("mcu_recordings_failed_total", "Recordings that ended failed (disk full, write error, encoder error).")
	m.recordingBytes = counter("mcu_recording_bytes_written_total", "Bytes written to recording files.")
	m.webhookDeliveries = counter("mcu_webhook_deliveries_total", "Webhook events delivered (2xx answer).")
	m.webhookFailures = counter("mcu_webhook_failures_total", "Webhook events given up after every retry.")
	m.webhookDropped = counter("mcu_webhook_dropped_total", "Webhook events dropped because the queue was full.")
	m.draining = gauge("mcu_draining", "1 while the server drains before exit.")
	m.diskFree = gauge("mcu_recordings_disk_free_bytes", "Free bytes on the filesystem of the recordings directory, at the last check.")
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, d := range []string{In, Out} {
		m.plis.WithLabelValues(d)
		m.nacks.WithLabelValues(d)
		m.bytes.WithLabelValues(d)
	}
	return m
}

// Registry returns the registry, e.g. to add collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Room is the metrics handle of one open room.
type Room struct {
	m            *Metrics
	name         string
	participants prometheus.Gauge
	fps          prometheus.Gauge
	dropped      prometheus.Counter
	closeOnce    sync.Once
}

// OpenRoom counts a new room and returns its handle; Close it when the
// room closes so its labelled series disappear.
func (m *Metrics) OpenRoom(name string) *Room {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	m.roomNames[name]++
	m.mu.Unlock()
	m.rooms.Inc()
	m.roomsTotal.Inc()
	return &Room{
		m: m, name: name,
		participants: m.roomParticipants.WithLabelValues(name),
		fps:          m.roomFPS.WithLabelValues(name),
		dropped:      m.roomFramesDropped.WithLabelValues(name),
	}
}

// Close removes the room's series (once every handle of that name is
// closed). Participants still counted are taken off the totals.
func (r *Room) Close() {
	if r == nil {
		return
	}
	r.closeOnce.Do(func() {
		m := r.m
		m.rooms.Dec()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.roomNames[r.name]--
		if m.roomNames[r.name] > 0 {
			return
		}
		delete(m.roomNames, r.name)
		m.roomParticipants.DeleteLabelValues(r.name)
		m.roomFPS.DeleteLabelValues(r.name)
		m.roomFramesDropped.DeleteLabelValues(r.name)
	})
}

// ParticipantJoined counts a participant in.
func (r *Room) ParticipantJoined() {
	if r == nil {
		return
	}
	r.participants.Inc()
	r.m.participants.Inc()
	r.m.participantsTotal.Inc()
}

// ParticipantLeft counts a participant out.
func (r *Room) ParticipantLeft() {
	if r == nil {
		return
	}
	r.participants.Dec()
	r.m.participants.Dec()
}

// SetOutputFPS records the frame rate the output achieved.
func (r *Room) SetOutputFPS(fps float64) {
	if r != nil {
		r.fps.Set(fps)
	}
}

// FramesDropped counts n output frames not produced or delivered in time.
func (r *Room) FramesDropped(n int) {
	if r != nil && n > 0 {
		r.dropped.Add(float64(n))
	}
}

// Encoded records the time one output frame took to encode.
func (r *Room) Encoded(d time.Duration) {
	if r != nil {
		r.m.encodeSeconds.Observe(d.Seconds())
	}
}

// Composited records the time one output picture took to compose.
func (r *Room) Composited(d time.Duration) {
	if r != nil {
		r.m.compositeSeconds.Observe(d.Seconds())
	}
}

// AddedLatency records the time one picture spent in the server.
func (r *Room) AddedLatency(d time.Duration) {
	if r != nil {
		r.m.latencySeconds.Observe(d.Seconds())
	}
}

// Keyframes counts n keyframes forced in the room's output.
func (r *Room) Keyframes(n int) {
	if r != nil && n > 0 {
		r.m.keyframes.Add(float64(n))
	}
}

// RungSwitch counts one receiver moved to another rung of the ladder.
func (r *Room) RungSwitch() {
	if r != nil {
		r.m.rungSwitches.Inc()
	}
}

// DecodeErrors counts n incoming frames that failed to decode.
func (r *Room) DecodeErrors(n int) {
	if r != nil && n > 0 {
		r.m.decodeErrors.Add(float64(n))
	}
}

// PacketsLost counts n lost incoming RTP packets.
func (r *Room) PacketsLost(n int) {
	if r != nil && n > 0 {
		r.m.packetsLost.Add(float64(n))
	}
}

// Recording is the metrics handle of one running recording.
type Recording struct {
	m    *Metrics
	once sync.Once
}

// StartRecording counts a recording as running.
func (m *Metrics) StartRecording() *Recording {
	if m == nil {
		return nil
	}
	m.recordingsActive.Inc()
	m.recordingsTotal.Inc()
	return &Recording{m: m}
}

// Written counts n bytes written to the recording's file.
func (r *Recording) Written(n int) {
	if r != nil && n > 0 {
		r.m.recordingBytes.Add(float64(n))
	}
}

// End counts the recording as stopped; failed says it ended in error.
// Later calls do nothing.
func (r *Recording) End(failed bool) {
	if r == nil {
		return
	}
	r.once.Do(func() {
		r.m.recordingsActive.Dec()
		if failed {
			r.m.recordingsFailed.Inc()
		}
	})
}

// WebhookDelivered counts an event a receiver accepted.
func (m *Metrics) WebhookDelivered() {
	if m != nil {
		m.webhookDeliveries.Inc()
	}
}

// WebhookFailed counts an event given up after its retries.
func (m *Metrics) WebhookFailed() {
	if m != nil {
		m.webhookFailures.Inc()
	}
}

// WebhookDropped counts an event dropped because the queue was full.
func (m *Metrics) WebhookDropped() {
	if m != nil {
		m.webhookDropped.Inc()
	}
}

// SetDraining records whether the server is draining.
func (m *Metrics) SetDraining(on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.draining.Set(v)
}

// SetDiskFree records the free bytes under the recordings directory.
func (m *Metrics) SetDiskFree(bytes uint64) {
	if m != nil {
		m.diskFree.Set(float64(bytes))
	}
}
