package mcu

import (
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/output"
)

// paddingSize is the padding carried by one probe packet (the most RTP
// padding can hold).
const paddingSize = 255

// downTrack is one receiver's video: its own track, fed with the packets
// of the rendition its rung chooser picked. Sequence numbers are its own,
// so a switch between rungs looks to the receiver like one continuous
// stream that starts a new keyframe; timestamps come from the room clock,
// which all renditions share.
//
// The participant makes it and feeds it RTCP (keyframe requests, loss);
// the room's video goroutine owns everything else.
type downTrack struct {
	id    string
	codec output.Codec
	track *webrtc.TrackLocalStaticRTP
	bwe   cc.BandwidthEstimator // nil: the rung follows loss alone
	link  *linkMeter            // nil-safe

	connected atomic.Bool
	keyWanted atomic.Bool   // the receiver asked for a keyframe
	loss      atomic.Uint32 // fraction lost in its latest report, in 1/256
	lossAt    atomic.Int64  // when that report came, unix nanoseconds
	calmUntil atomic.Int64  // loss counts for nothing until then (a new path), unix nanoseconds
	switches  atomic.Int64
	bytesSent atomic.Int64
	stats     atomic.Pointer[ReceiveInfo]

	// the video goroutine's
	cur       int // rung being sent; -1 until the first keyframe
	chooser   rungChooser
	probe     prober
	nextCheck time.Time
	sent      rateWindow // of bytesSent, sampled at each rung check
	seq       uint16
	ts        uint32
	padBudget float64
	out       rtp.Packet // the packet being written: the track copies it
}

// ReceiveInfo is what the API shows of a receiver's video.
type ReceiveInfo struct {
	Codec string `json:"codec"`
	// Rung is the rung being sent, Target the one being switched to.
	Rung   string `json:"rung"`
	Target string `json:"target,omitempty"`
	// EstimateBPS is the send-side bandwidth estimate (0 while unknown).
	EstimateBPS int `json:"estimate_bps"`
	// QueueMS is how much longer packets now take to reach the receiver
	// than the fastest did lately (transport-wide feedback).
	QueueMS int `json:"queue_ms"`
	// ProbedBPS is a rate a probe showed the link carries, above the
	// estimate (0 when none).
	ProbedBPS int `json:"probed_bps,omitempty"`
	// Loss is the fraction of packets lost in the receiver's last report.
	Loss     float64 `json:"loss"`
	Probing  bool    `json:"probing,omitempty"`
	Switches int64   `json:"switches"`
}

func newDownTrack(id string, codec output.Codec, bwe cc.BandwidthEstimator, link *linkMeter) (*downTrack, error) {
	capability := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if codec == output.H264 {
		capability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp}
	}
	track, err := webrtc.NewTrackLocalStaticRTP(capability, "video", "mcu-"+id)
	if err != nil {
		return nil, err
	}
	return &downTrack{id: id, codec: codec, track: track, bwe: bwe, link: link, cur: -1}, nil
}

// h264Fmtp is the H.264 the room sends: constrained baseline, level 3.1,
// fragmented NAL units.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// readEstimator reads the estimator once per rung check: the bandwidth
// estimate in bits per second (0 while there is none) and the loss the
// receiver sees: the larger of its last receiver report, when under
// lossFresh old, and what the link meter read from transport-wide
// feedback once it settled. GCC's own loss average and overuse flag are
// not used: its loss counts packets a receiver reported late as lost
// (see linkMeter), and on a busy machine its overuse flag fires for late
// feedback as often as for a queue, which the link meter measures
// directly.
func (d *downTrack) readEstimator(now time.Time) (est, loss float64) {
	if now.UnixNano() >= d.calmUntil.Load() {
		if now.Sub(time.Unix(0, d.lossAt.Load())) < lossFresh {
			loss = float64(d.loss.Load()) / 256
		}
		loss = max(loss, d.link.loss(now))
	}
	if d.bwe == nil {
		return 0, loss
	}
	return float64(d.bwe.GetTargetBitrate()), loss
}

// reportLoss notes the loss a receiver report gave, in 1/256. Reports
// that come while the path is new cover the change and are ignored.
func (d *downTrack) reportLoss(fraction uint8) {
	now := time.Now().UnixNano()
	if now < d.calmUntil.Load() {
		fraction = 0
	}
	d.loss.Store(uint32(fraction))
	d.lossAt.Store(now)
}

// newPath tells the receiver's rung choice that its connection is moving
// to a new network path (an ICE restart): what was lost in the move says
// nothing of either path's capacity, so loss counts for nothing for
// pathCalm. The queuing delay and the estimate still move the receiver
// down if the new path is narrower.
func (d *downTrack) newPath() {
	d.calmUntil.Store(time.Now().Add(pathCalm).UnixNano())
	d.loss.Store(0)
}

// pathCalm covers an ICE restart's checks, the receiver report after it
// (sent about every second) and the link meter's settling.
const pathCalm = 3 * time.Second

// lossFresh is how long a receiver report's loss counts.
const lossFresh = 3 * time.Second

// send writes one picture's packets (renumbered) to the receiver.
func (d *downTrack) send(pkts []*rtp.Packet) {
	for _, p := range pkts {
		d.out = *p
		d.out.SequenceNumber = d.seq
		d.seq++
		d.ts = p.Timestamp
		d.bytesSent.Add(int64(len(p.Payload) + 12))
		_ = d.track.WriteRTP(&d.out)
	}
}

// pad sends bits of padding-only packets: probes that let the bandwidth
// estimate climb above what the current rung sends.
func (d *downTrack) pad(bits float64) {
	d.padBudget += bits
	for d.padBudget >= paddingSize*8 {
		d.padBudget -= paddingSize * 8
		d.out = rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: paddingSize, SequenceNumber: d.seq, Timestamp: d.ts}}
		d.seq++
		d.bytesSent.Add(paddingSize + 12)
		_ = d.track.WriteRTP(&d.out)
	}
}
