package mcu_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// Lip sync judged where people see it: a publisher flashes its picture and
// beeps at the same capture instants, with honest RTCP sender reports; a
// receive-only participant decodes the composite and the mix as they
// arrive, and the flash-to-beep offset it sees must stay within 40 ms. With
// the microphone's samples reaching the network 200 ms after the camera's
// (as a capture pipeline really delays them) the server must still align
// them from the sender reports.
func TestLipSyncAtTheReceiver(t *testing.T) {
	for _, audioLate := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprintf("audio %v late", audioLate), func(t *testing.T) {
			s := startServerWith(t, server.Config{Rooms: mcu.Config{Quality: output.Q360, FPS: 30}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rx := newSyncReceiver(ctx, t, s.ws, "sync")
			defer rx.close()
			stop := publishFlashes(ctx, t, s.ws, "sync", audioLate)
			time.Sleep(9 * time.Second)
			stop()
			flashes, beeps := rx.onsets()
			offsets := pairOnsets(flashes, beeps)
			t.Logf("flashes %d, beeps %d, offsets (picture minus sound) %v", len(flashes), len(beeps), offsets)
			// The first seconds go to negotiation and the first sender reports.
			if len(offsets) < 4 {
				t.Fatalf("only %d flash/beep pairs seen (flashes %v, beeps %v)", len(offsets), flashes, beeps)
			}
			offsets = offsets[len(offsets)-4:]
			sorted := append([]time.Duration(nil), offsets...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			median := (sorted[1] + sorted[2]) / 2
			if median.Abs() > 40*time.Millisecond {
				t.Errorf("picture %v against its sound at the receiver (median of %v), want within 40 ms", median, offsets)
			}
		})
	}
}

const (
	flashPeriod = 900 * time.Millisecond // not a multiple of the frame interval, so phases vary
	flashLength = 200 * time.Millisecond
	beepHz      = 1000
)

// publishFlashes joins room and sends 320x240 VP8 at 30 fps that is white
// during the first flashLength of every flashPeriod and dark otherwise, and
// Opus that beeps at the same capture instants. It writes its own RTP
// timestamps and sender reports; the audio of capture time t leaves at
// t+audioLate.
func publishFlashes(ctx context.Context, t *testing.T, wsURL, room string, audioLate time.Duration) (stop func()) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "flasher"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ws, signaling.TypeJoined)
	// No interceptors: the sender reports are ours.
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "flasher")
	if err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "flasher")
	if err != nil {
		t.Fatal(err)
	}
	vtr, err := pc.AddTransceiverFromTrack(vt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		t.Fatal(err)
	}
	atr, err := pc.AddTransceiverFromTrack(at, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		t.Fatal(err)
	}
	negotiate(t, ws, pc)

	var wg sync.WaitGroup
	done := make(chan struct{})
	var keyWanted sync.Mutex
	key := true
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			pkts, _, err := vtr.Sender().ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					keyWanted.Lock()
					key = true
					keyWanted.Unlock()
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if _, _, err := atr.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()

	epoch := time.Now()
	const audioBase, videoBase = 123456, 987654 // streams start at unrelated timestamps
	videoTS := func(c time.Duration) uint32 { return videoBase + uint32(c.Seconds()*90000) }
	audioTS := func(c time.Duration) uint32 { return audioBase + uint32(c.Seconds()*output.SampleRate) }
	flashing := func(c time.Duration) bool { return c%flashPeriod < flashLength }
	vssrc := uint32(vtr.Sender().GetParameters().Encodings[0].SSRC)
	assrc := uint32(atr.Sender().GetParameters().Encodings[0].SSRC)

	wg.Add(3)
	go func() { // video: capture time = send time
		defer wg.Done()
		enc, err := transcode.NewVideoEncoder(transcode.VideoConfig{Codec: "vp8", Width: 320, Height: 240, FPS: 30, Bitrate: 300_000})
		if err != nil {
			t.Error(err)
			return
		}
		defer enc.Close()
		canvas, err := transcode.NewCanvas(320, 240)
		if err != nil {
			t.Error(err)
			return
		}
		defer canvas.Close()
		pay := &codecs.VP8Payloader{}
		var seq uint16
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for n := int64(0); ; n++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			c := time.Since(epoch)
			col := transcode.RGB(20, 20, 90)
			if flashing(c) {
				col = transcode.RGB(255, 255, 255)
			}
			_ = canvas.Begin()
			canvas.Fill(image.Rect(0, 0, 320, 240), col)
			keyWanted.Lock()
			if key {
				enc.ForceKeyframe()
				key = false
			}
			keyWanted.Unlock()
			_ = enc.EncodeVideo(canvas.Frame(), n, func(p *astiav.Packet) error {
				payloads := pay.Payload(1200, p.Data())
				for i, pl := range payloads {
					seq++
					_ = vt.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: videoTS(c), Marker: i == len(payloads)-1}, Payload: pl})
				}
				return nil
			})
		}
	}()
	go func() { // audio: 20 ms blocks, sent audioLate after their capture
		defer wg.Done()
		enc, err := transcode.NewAudioEncoder(transcode.AudioConfig{Codec: "opus", Bitrate: output.LiveAudioBitrate})
		if err != nil {
			t.Error(err)
			return
		}
		defer enc.Close()
		var seq uint16
		var sample int64
		block := make([]float32, output.SampleRate/50)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			// Send every block whose capture ended audioLate ago.
			for time.Duration(sample+int64(len(block)))*time.Second/output.SampleRate <= time.Since(epoch)-audioLate {
				first := time.Duration(sample) * time.Second / output.SampleRate
				for i := range block {
					c := time.Duration(sample+int64(i)) * time.Second / output.SampleRate
					block[i] = 0
					if flashing(c) {
						block[i] = float32(0.5 * math.Sin(2*math.Pi*beepHz*c.Seconds()))
					}
				}
				sample += int64(len(block))
				_ = enc.EncodeAudio(block, false, func(p *astiav.Packet) error {
					seq++
					return at.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: audioTS(first)}, Payload: p.Data()})
				})
			}
		}
	}()
	go func() { // sender reports: wall clock now against each stream's timestamp for now
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			now := time.Now()
			c := now.Sub(epoch)
			ntp := toNTP(now)
			_ = pc.WriteRTCP([]rtcp.Packet{
				&rtcp.SenderReport{SSRC: vssrc, NTPTime: ntp, RTPTime: videoTS(c)},
				&rtcp.SenderReport{SSRC: assrc, NTPTime: ntp, RTPTime: audioTS(c)},
			})
		}
	}()
	return func() {
		close(done)
		_ = pc.Close()
		_ = ws.Close()
		wg.Wait()
	}
}

func toNTP(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	s := uint64(t.Unix()) + ntpEpochOffset
	f := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return s<<32 | f
}

// negotiate sends pc's offer over ws and applies the answer.
func negotiate(t *testing.T, ws *websocket.Conn, pc *webrtc.PeerConnection) {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := ws.WriteJSON(signaling.Message{Type: signaling.TypeOffer, SDP: pc.LocalDescription().SDP}); err != nil {
		t.Fatal(err)
	}
	answer := readUntil(t, ws, signaling.TypeAnswer)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
		t.Fatal(err)
	}
}

// syncReceiver is a receive-only participant that notes when the
// composite turns bright and when the mix starts beeping, by arrival time.
type syncReceiver struct {
	ws   *websocket.Conn
	pc   *webrtc.PeerConnection
	wg   sync.WaitGroup
	mu   sync.Mutex
	pics []timedLevel // centre luma of every picture
	snd  []timedLevel // beep level of every 2.5 ms of the mix
}

type timedLevel struct {
	at    time.Time
	level float64
}

func newSyncReceiver(ctx context.Context, t *testing.T, wsURL, room string) *syncReceiver {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "viewer", ReceiveOnly: true}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ws, signaling.TypeJoined)
	// It takes VP8 only: its reader puts VP8 pictures together.
	me := &webrtc.MediaEngine{}
	for _, c := range []struct {
		kind webrtc.RTPCodecType
		p    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}},
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}},
	} {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	rx := &syncReceiver{ws: ws, pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		rx.wg.Add(1)
		go func() {
			defer rx.wg.Done()
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				rx.readVideo(tr)
			} else {
				rx.readAudio(tr)
			}
		}()
	})
	negotiate(t, ws, pc)
	return rx
}

func (rx *syncReceiver) readVideo(tr *webrtc.TrackRemote) {
	dec, err := transcode.NewStreamDecoder("vp8")
	if err != nil {
		return
	}
	defer dec.Close()
	// Loopback loses nothing: a picture is its packets up to the marker, so
	// its arrival time is that of its last packet (no jitter buffer delay).
	var frame []byte
	var ts uint32
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if pkt.Timestamp != ts {
			frame, ts = frame[:0], pkt.Timestamp
		}
		var vp8 codecs.VP8Packet
		data, err := vp8.Unmarshal(pkt.Payload)
		if err != nil {
			continue
		}
		frame = append(frame, data...)
		if !pkt.Marker {
			continue
		}
		at := time.Now()
		_ = dec.DecodeVideo(frame, func(f *astiav.Frame) error {
			img, err := transcode.Snapshot(f)
			if err != nil {
				return err
			}
			b := img.Bounds()
			luma := img.Y[img.YOffset(b.Dx()/2, b.Dy()/2)]
			rx.mu.Lock()
			rx.pics = append(rx.pics, timedLevel{at: at, level: float64(luma)})
			rx.mu.Unlock()
			return nil
		})
		frame = frame[:0]
	}
}

func (rx *syncReceiver) readAudio(tr *webrtc.TrackRemote) {
	dec, err := transcode.NewStreamDecoder("opus")
	if err != nil {
		return
	}
	defer dec.Close()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		at := time.Now()
		_ = dec.DecodeAudio(pkt.Payload, func(x []float32) {
			const win = output.SampleRate / 400 // 2.5 ms
			rx.mu.Lock()
			defer rx.mu.Unlock()
			for i := 0; i+win <= len(x); i += win {
				var e float64
				for _, v := range x[i : i+win] {
					e += float64(v) * float64(v)
				}
				// A player starts a block when it arrives.
				rx.snd = append(rx.snd, timedLevel{at: at.Add(time.Duration(i) * time.Second / output.SampleRate), level: math.Sqrt(e / win)})
			}
		})
	}
}

// onsets returns the arrival times at which pictures turned bright and the
// sound started beeping, each after at least 300 ms of dark or silence.
func (rx *syncReceiver) onsets() (flashes, beeps []time.Time) {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return risingEdges(rx.pics, 128), risingEdges(rx.snd, 0.1)
}

func risingEdges(xs []timedLevel, threshold float64) []time.Time {
	var out []time.Time
	var lastHigh time.Time
	for _, x := range xs {
		if x.level < threshold {
			continue
		}
		if lastHigh.IsZero() || x.at.Sub(lastHigh) > 300*time.Millisecond {
			out = append(out, x.at)
		}
		lastHigh = x.at
	}
	return out
}

// pairOnsets pairs each flash with the nearest beep within half a period
// and returns picture minus sound.
func pairOnsets(flashes, beeps []time.Time) []time.Duration {
	var out []time.Duration
	for _, f := range flashes {
		best := time.Duration(math.MaxInt64)
		for _, b := range beeps {
			if d := f.Sub(b); d.Abs() < best.Abs() {
				best = d
			}
		}
		if best.Abs() < flashPeriod/2 {
			out = append(out, best)
		}
	}
	return out
}

func (rx *syncReceiver) close() {
	_ = rx.pc.Close()
	_ = rx.ws.Close()
	rx.wg.Wait()
}
