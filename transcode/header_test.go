package transcode

import (
	"bytes"
	"testing"

	"github.com/asticode/go-astiav"
)

// A recording that writes the live H.264 packets into MP4 takes its avcC
// from a second encoder with the same settings and a global header. That
// only works if x264's global header holds exactly the SPS and PPS the live
// encoder repeats in front of each keyframe.
func TestH264GlobalHeaderMatchesInBandParameterSets(t *testing.T) {
	cfg := VideoConfig{Codec: "h264", Width: 640, Height: 360, FPS: 15, Bitrate: 600_000,
		ErrorResilient: true, Preset: "ultrafast", Live: true}
	live, err := NewVideoEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	cfg.GlobalHeader = true
	described, err := NewVideoEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer described.Close()

	c, err := NewCanvas(640, 360)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Begin(); err != nil {
		t.Fatal(err)
	}
	var first []byte
	for pts := int64(0); first == nil && pts < 30; pts++ {
		if err := live.EncodeVideo(c.Frame(), pts, func(p *astiav.Packet) error {
			if first == nil {
				first = append([]byte(nil), p.Data()...)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	inBand := parameterSets(first)
	header := parameterSets(described.cc.ExtraData())
	if len(inBand) != 2 || len(header) != 2 {
		t.Fatalf("parameter sets: %d in the first packet, %d in the global header; want an SPS and a PPS in each", len(inBand), len(header))
	}
	for i := range inBand {
		if !bytes.Equal(inBand[i], header[i]) {
			t.Errorf("NAL type %d differs:\nin band %x\nheader  %x", inBand[i][0]&0x1f, inBand[i], header[i])
		}
	}
}

// parameterSets returns the SPS and PPS NAL units of an Annex B stream.
func parameterSets(b []byte) [][]byte {
	var out [][]byte
	for _, nal := range bytes.Split(b, []byte{0, 0, 1}) {
		nal = bytes.TrimRight(nal, "\x00")
		if len(nal) > 0 && (nal[0]&0x1f == 7 || nal[0]&0x1f == 8) {
			out = append(out, nal)
		}
	}
	return out
}
