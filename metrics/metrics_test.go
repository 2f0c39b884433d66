package metrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches h's /metrics and parses it with Prometheus's own parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want (name=value pairs), and whether it exists.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestRoomLifecycle(t *testing.T) {
	m := New()
	a := m.OpenRoom("standup")
	b := m.OpenRoom("retro")
	a.ParticipantJoined()
	a.ParticipantJoined()
	b.ParticipantJoined()
	a.ParticipantLeft()
	a.SetOutputFPS(29.5)
	a.FramesDropped(3)
	a.Encoded(4 * time.Millisecond)
	a.Encoded(3 * time.Millisecond)
	a.Keyframes(1)
	a.Composited(2 * time.Millisecond)
	a.AddedLatency(40 * time.Millisecond)
	a.DecodeErrors(1)
	a.PacketsLost(7)
	countTraffic(t, m)
	rec := m.StartRecording()
	rec.Written(4096)
	failed := m.StartRecording()
	failed.End(true)
	failed.End(true) // counted once
	m.WebhookDelivered()
	m.WebhookFailed()
	m.SetDraining(true)

	fams := scrape(t, m.Handler())
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mcu_rooms", nil, 2},
		{"mcu_rooms_created_total", nil, 2},
		{"mcu_participants", nil, 2},
		{"mcu_participants_joined_total", nil, 3},
		{"mcu_room_participants", []string{"room", "standup"}, 1},
		{"mcu_room_participants", []string{"room", "retro"}, 1},
		{"mcu_room_output_fps", []string{"room", "standup"}, 29.5},
		{"mcu_room_frames_dropped_total", []string{"room", "standup"}, 3},
		{"mcu_encode_seconds", nil, 2},
		{"mcu_composite_seconds", nil, 1},
		{"mcu_added_latency_seconds", nil, 1},
		{"mcu_keyframes_total", nil, 1},
		{"mcu_decode_errors_total", nil, 1},
		{"mcu_plis_total", []string{"direction", "in"}, 1},
		{"mcu_plis_total", []string{"direction", "out"}, 2},
		{"mcu_nacks_total", []string{"direction", "in"}, 5},
		{"mcu_nacks_total", []string{"direction", "out"}, 0},
		{"mcu_packets_lost_total", nil, 7},
		{"mcu_bytes_total", []string{"direction", "in"}, 1000},
		{"mcu_bytes_total", []string{"direction", "out"}, 12 + 500},
		{"mcu_recordings_active", nil, 1},
		{"mcu_recordings_started_total", nil, 2},
		{"mcu_recordings_failed_total", nil, 1},
		{"mcu_recording_bytes_written_total", nil, 4096},
		{"mcu_webhook_deliveries_total", nil, 1},
		{"mcu_webhook_failures_total", nil, 1},
		{"mcu_draining", nil, 1},
	} {
		if got, ok := value(fams, tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v); want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s: Go and process collectors missing", name)
		}
	}
	for name := range fams {
		if !strings.HasPrefix(name, "mcu_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %s lacks the mcu_ prefix", name)
		}
	}

	// Closing a room removes its labelled series and counts it out.
	a.Close()
	a.Close()
	fams = scrape(t, m.Handler())
	for _, name := range []string{"mcu_room_participants", "mcu_room_output_fps", "mcu_room_frames_dropped_total"} {
		if _, ok := value(fams, name, "room", "standup"); ok {
			t.Errorf("%s{room=standup} still exported after the room closed", name)
		}
	}
	if v, ok := value(fams, "mcu_room_participants", "room", "retro"); !ok || v != 1 {
		t.Errorf("retro lost its series: %v %v", v, ok)
	}
	if v, _ := value(fams, "mcu_rooms", nil...); v != 1 {
		t.Errorf("mcu_rooms = %v after a close; want 1", v)
	}
}

// TestReopenedRoomKeepsSeries: a room closed late (after a new room of the
// same name opened) does not delete the new room's series.
func TestReopenedRoomKeepsSeries(t *testing.T) {
	m := New()
	old := m.OpenRoom("r")
	fresh := m.OpenRoom("r")
	fresh.SetOutputFPS(15)
	old.Close()
	if v, ok := value(scrape(t, m.Handler()), "mcu_room_output_fps", "room", "r"); !ok || v != 15 {
		t.Errorf("fps of reopened room: %v %v", v, ok)
	}
	fresh.Close()
	if _, ok := value(scrape(t, m.Handler()), "mcu_room_output_fps", "room", "r"); ok {
		t.Error("series survives the last close")
	}
}

// TestNilSafe: code without metrics passes nil everywhere.
func TestNilSafe(t *testing.T) {
	var m *Metrics
	r := m.OpenRoom("x")
	r.ParticipantJoined()
	r.ParticipantLeft()
	r.SetOutputFPS(1)
	r.FramesDropped(1)
	r.Encoded(time.Millisecond)
	r.Composited(time.Millisecond)
	r.AddedLatency(time.Millisecond)
	r.Keyframes(1)
	r.DecodeErrors(1)
	r.PacketsLost(1)
	if m.Interceptor() != nil {
		t.Error("nil metrics has an interceptor")
	}
	r.Close()
	rec := m.StartRecording()
	rec.Written(1)
	rec.End(false)
	m.WebhookDelivered()
	m.WebhookFailed()
	m.WebhookDropped()
	m.SetDraining(true)
	m.SetDiskFree(1)
	if m.Registry() != nil {
		t.Error("nil metrics has a registry")
	}
	rr := httptest.NewRecorder()
	m.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	if rr.Code != http.StatusNotFound {
		t.Errorf("nil handler status %d", rr.Code)
	}
}

// TestDashboardNames: every mcu_ metric the Grafana dashboard queries exists.
func TestDashboardNames(t *testing.T) {
	data, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	m := New()
	m.OpenRoom("r") // so labelled families are exported
	fams := scrape(t, m.Handler())
	re := regexp.MustCompile(`\b(mcu|process|go)_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				n++
				base := strings.TrimSuffix(name, "_bucket")
				if _, ok := fams[base]; !ok {
					t.Errorf("panel %q queries %s, which is not exported", p.Title, name)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d metric references in the dashboard", n)
	}
}

// countTraffic passes packets through the interceptor as a PeerConnection
// would: 1000 RTP bytes in, a 12-byte header and 500 bytes of payload out,
// a NACK of 5 packets and a PLI in, two PLIs out.
func countTraffic(t *testing.T, m *Metrics) {
	t.Helper()
	i, err := m.Interceptor().NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	in := i.BindRemoteStream(&interceptor.StreamInfo{}, interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return 1000, a, nil
	}))
	if _, _, err := in.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	out := i.BindLocalStream(&interceptor.StreamInfo{}, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		return h.MarshalSize() + len(p), nil
	}))
	if _, err := out.Write(&rtp.Header{Version: 2}, make([]byte, 500), nil); err != nil {
		t.Fatal(err)
	}
	// Packet 100 and 101..104 (bitmask 0b1111): five packets.
	raw, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 100, LostPackets: 0b1111}}},
		&rtcp.PictureLossIndication{MediaSSRC: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	rr := i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, raw), a, nil
	}))
	if _, _, err := rr.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	rw := i.BindRTCPWriter(interceptor.RTCPWriterFunc(func(p []rtcp.Packet, a interceptor.Attributes) (int, error) { return 0, nil }))
	if _, err := rw.Write([]rtcp.Packet{&rtcp.PictureLossIndication{}, &rtcp.FullIntraRequest{}}, nil); err != nil {
		t.Fatal(err)
	}
}
