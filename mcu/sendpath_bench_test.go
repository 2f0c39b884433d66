package mcu

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/output"
)

// BenchmarkSendPath measures what one video packet costs the server to
// send to one receiver: the room's interceptors (link meter, NACK
// limiter and responder, RTCP reports, transport-wide sequence numbers,
// the bandwidth estimator), SRTP and the UDP send, with a plain pion
// receiver on loopback draining the other end: what a WHEP viewer costs
// per packet inline, since viewers get packets encoded once for the room
// (the feedback each viewer sends back is handled on other goroutines and
// is not counted). The "bare" case is the same connection without any
// interceptor: SRTP and the UDP send alone. cpu-ns/packet is the sending
// thread's own CPU (RUSAGE_THREAD, kernel included; on loopback the
// kernel's delivery to the receiving socket runs there too).
//
//	go test -run '^$' -bench SendPath -benchtime 40000x -count 3 ./mcu
func BenchmarkSendPath(b *testing.B) {
	b.Run("room", func(b *testing.B) {
		rs, err := NewRooms(Config{IncludeLoopback: true})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = rs.Close(context.Background()) }()
		pc, bwe, link, err := rs.newPeerConnection()
		if err != nil {
			b.Fatal(err)
		}
		benchSend(b, pc, bwe, link)
	})
	b.Run("bare", func(b *testing.B) {
		me := &webrtc.MediaEngine{}
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp}, PayloadType: 102}, webrtc.RTPCodecTypeVideo); err != nil {
			b.Fatal(err)
		}
		se := webrtc.SettingEngine{}
		se.SetIncludeLoopbackCandidate(true)
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		benchSend(b, pc, nil, nil)
	})
}

func benchSend(b *testing.B, pc *webrtc.PeerConnection, bwe cc.BandwidthEstimator, link *linkMeter) {
	defer func() { _ = pc.Close() }()
	dt, err := newDownTrack("bench", output.H264, bwe, link)
	if err != nil {
		b.Fatal(err)
	}
	sender, err := pc.AddTrack(dt.track)
	if err != nil {
		b.Fatal(err)
	}
	go func() { // RTCP from the receiver feeds the interceptors
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()

	rx := receiverForBench(b)
	defer func() { _ = rx.Close() }()
	if _, err := rx.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	rx.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
			got.Add(1)
		}
	})
	connect(b, rx, pc)

	payload := make([]byte, 1188) // a full packet at pion's 1200-byte MTU
	for i := range payload {
		payload[i] = byte(i)
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1}, Payload: payload}
	pkts := []*rtp.Packet{pkt}
	// Warm up: the first packets open the track and the estimator.
	for i := 0; i < 200; i++ {
		pkt.Timestamp += 3000
		dt.send(pkts)
		time.Sleep(time.Millisecond)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	got.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%8 == 0 {
			pkt.Timestamp += 3000
			// About the pace of a 2 Mb/s stream's pictures, so the
			// receiver and its feedback keep up as a real one would.
			time.Sleep(200 * time.Microsecond)
		}
		dt.send(pkts)
	}
	b.StopTimer()
	b.ReportMetric(float64((threadCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/packet")
	time.Sleep(100 * time.Millisecond)
	b.ReportMetric(float64(got.Load())/float64(b.N), "delivered")
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// receiverForBench is a plain pion peer with pion's default interceptors,
// as a WHEP player would have.
func receiverForBench(b *testing.B) *webrtc.PeerConnection {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	return pc
}

// connect negotiates offerer with answerer, candidates gathered first, and
// waits for both to connect.
func connect(b *testing.B, offerer, answerer *webrtc.PeerConnection) {
	up := make(chan struct{}, 2)
	for _, pc := range []*webrtc.PeerConnection{offerer, answerer} {
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				up <- struct{}{}
			}
		})
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case <-up:
		case <-time.After(10 * time.Second):
			b.Fatal("peers did not connect")
		}
	}
}
