package mcu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
)

// offeredVideo reports which of the room's live codecs an offer's video
// section can receive: VP8, and H.264 in packetization mode 1 at a
// baseline-compatible profile (what the room's encoder makes).
func offeredVideo(offer string) (vp8, h264 bool) {
	var d sdp.SessionDescription
	if d.UnmarshalString(offer) != nil {
		return false, false
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		fmtp := map[string]string{}
		names := map[string]string{}
		for _, a := range m.Attributes {
			pt, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			switch a.Key {
			case "rtpmap":
				names[pt] = strings.ToLower(rest)
			case "fmtp":
				fmtp[pt] = strings.ToLower(rest)
			}
		}
		for pt, name := range names {
			switch {
			case strings.HasPrefix(name, "vp8/"):
				vp8 = true
			case strings.HasPrefix(name, "h264/"):
				f := fmtp[pt]
				if strings.Contains(f, "packetization-mode=1") && strings.Contains(f, "profile-level-id=42") {
					h264 = true
				}
			}
		}
	}
	return vp8, h264
}

// pickCodec chooses a receiver's live video codec from the room's setting
// and what its offer can take.
func pickCodec(setting output.Codec, vp8, h264 bool) (output.Codec, error) {
	switch {
	case setting == output.H264 && h264, setting == output.CodecAuto && h264:
		return output.H264, nil
	case setting == output.VP8 && vp8, setting == output.CodecAuto && vp8:
		return output.VP8, nil
	case setting == output.CodecAuto:
		return "", fmt.Errorf("the offer can receive neither VP8 nor H.264 (packetization-mode=1, baseline profile)")
	}
	name := map[output.Codec]string{output.VP8: "VP8", output.H264: "H.264 (packetization-mode=1, baseline profile)"}[setting]
	return "", fmt.Errorf("this room sends only %s, which the offer cannot receive", name)
}

// videoCodecFor picks the live codec for a receiver's offer.
func (r *Room) videoCodecFor(offer string) (output.Codec, error) {
	vp8, h264 := offeredVideo(offer)
	c, err := pickCodec(r.Settings().Codec, vp8, h264)
	if err != nil {
		return "", &signaling.Error{Code: signaling.CodeBadRequest, Message: "invalid offer: " + err.Error()}
	}
	return c, nil
}
