package output

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"360p", "480P", " 720p "} {
		if _, err := ParseQuality(s); err != nil {
			t.Errorf("ParseQuality(%q): %v", s, err)
		}
	}
	_, err := ParseQuality("1080p")
	if !errors.Is(err, ErrBadQuality) || !strings.Contains(err.Error(), `"1080p" (allowed: 360p, 480p, 720p)`) {
		t.Errorf("1080p: %v", err)
	}
	if _, err := ParseFPS(25); !errors.Is(err, ErrBadFPS) || !strings.Contains(err.Error(), "25 (allowed: 15, 30)") {
		t.Errorf("fps 25: %v", err)
	}
	if n, err := ParseFPSString(" 15"); err != nil || n != 15 {
		t.Errorf("fps \" 15\": %d %v", n, err)
	}
	if _, err := ParseFPSString("thirty"); !errors.Is(err, ErrBadFPS) || !strings.Contains(err.Error(), `"thirty"`) {
		t.Errorf("fps thirty: %v", err)
	}
	if _, err := ParseFormat("avi"); !errors.Is(err, ErrBadFormat) || !strings.Contains(err.Error(), "(allowed: webm, mp4)") {
		t.Errorf("avi: %v", err)
	}
	if f, err := ParseFormat("MP4"); err != nil || f != MP4 {
		t.Errorf("MP4: %v %v", f, err)
	}
}

func TestValues(t *testing.T) {
	sizes := map[Quality][2]int{Q360: {640, 360}, Q480: {854, 480}, Q720: {1280, 720}}
	for q, want := range sizes {
		if w, h := q.Size(); w != want[0] || h != want[1] {
			t.Errorf("%s = %dx%d", q, w, h)
		}
	}
	if Q720.VideoBitrate(30) != 2_000_000 || Q720.VideoBitrate(15) >= Q720.VideoBitrate(30) {
		t.Error("720p bitrates")
	}
	if WebM.VideoCodec() != "vp8" || WebM.AudioCodec() != "opus" || MP4.VideoCodec() != "h264" || MP4.AudioCodec() != "aac" {
		t.Error("codecs")
	}
	if MP4.AudioBitrate() <= WebM.AudioBitrate() || !MP4.NeedsGlobalHeader() || WebM.NeedsGlobalHeader() {
		t.Error("audio settings")
	}
	if MP4.AudioOnlyExt() != "m4a" || WebM.AudioOnlyExt() != "webm" {
		t.Error("extensions")
	}
}
