package mcu

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// chromeOffer is the shape of a browser's first offer: audio and video,
// sendrecv, bundled, with host candidates.
const chromeOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS stream\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:stream audio\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=ssrc:1001 cname:c\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:stream video\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 nack\r\n" +
	"a=rtcp-fb:96 nack pli\r\n" +
	"a=rtpmap:97 rtx/90000\r\n" +
	"a=fmtp:97 apt=96\r\n" +
	"a=rtpmap:102 H264/90000\r\n" +
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=ssrc-group:FID 2001 2002\r\n" +
	"a=ssrc:2001 cname:c\r\n" +
	"a=ssrc:2002 cname:c\r\n"

// FuzzOffer feeds arbitrary offers to the SDP parser and then, when they
// parse, to a PeerConnection of the server's own WebRTC stack up to the
// answer, as Participant.Offer does. Nothing may panic; an offer the
// stack takes must get an answer that parses again. The answer is never
// set as local description: that would start ICE towards the fuzzed
// candidates.
func FuzzOffer(f *testing.F) {
	f.Add(chromeOffer)
	f.Add(strings.ReplaceAll(chromeOffer, "a=sendrecv", "a=recvonly"))
	f.Add(strings.Replace(chromeOffer, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", 1))
	f.Add("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	f.Add("v=0\r\nm=video 9 RTP/AVP 96\r\n")
	s, err := NewRooms(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, offer string) {
		var parsed sdp.SessionDescription
		if err := parsed.Unmarshal([]byte(offer)); err != nil {
			return
		}
		if _, err := parsed.Marshal(); err != nil {
			t.Fatalf("a parsed offer does not marshal: %v", err)
		}
		_, _ = answerOffer(t, s, offer)
	})
}

// answerOffer applies offer to a new PeerConnection of s's stack, adds the
// composite's video and audio tracks as Participant.Offer does, and
// returns the parsed answer.
func answerOffer(t *testing.T, s *Rooms, offer string) (*sdp.SessionDescription, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, err
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "mcu")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "mcu")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		if _, err := pc.AddTrack(tr); err != nil {
			return nil, err
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	var a sdp.SessionDescription
	if err := a.Unmarshal([]byte(answer.SDP)); err != nil {
		t.Fatalf("our answer does not parse: %v\n%s", err, answer.SDP)
	}
	return &a, nil
}

// TestOfferSeedIsAnswered keeps the fuzz seed meaningful: the browser-like
// offer must get an answer sending video and audio back.
func TestOfferSeedIsAnswered(t *testing.T) {
	s, err := NewRooms(Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := answerOffer(t, s, chromeOffer)
	if err != nil {
		t.Fatalf("browser-like offer refused: %v", err)
	}
	if len(a.MediaDescriptions) != 2 {
		t.Fatalf("answer has %d media sections", len(a.MediaDescriptions))
	}
	for _, m := range a.MediaDescriptions {
		if _, ok := m.Attribute("sendrecv"); !ok {
			t.Errorf("%s section is not sendrecv", m.MediaName.Media)
		}
	}
}
