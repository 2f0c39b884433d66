package transcode

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
)

// ProbeDuration returns a file's duration in seconds. Files that do not
// declare one, such as MediaRecorder WebM, are scanned packet by packet
// (demuxing only, no decoding).
func ProbeDuration(path string) (float64, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return 0, fmt.Errorf("%s: allocating format context failed", path)
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return 0, fmt.Errorf("%s: cannot open: %w", path, err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return 0, fmt.Errorf("%s: cannot read stream info: %w", path, err)
	}
	if d := fc.Duration(); d > 0 {
		return float64(d) / 1e6, nil
	}
	start := fc.StartTime()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	streams := fc.Streams()
	var end int64 = noPTS
	us := astiav.NewRational(1, 1_000_000)
	for {
		pkt.Unref()
		err := fc.ReadFrame(pkt)
		if errors.Is(err, astiav.ErrEof) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s: reading: %w", path, err)
		}
		if pkt.Pts() == noPTS || pkt.StreamIndex() >= len(streams) {
			continue
		}
		tb := streams[pkt.StreamIndex()].TimeBase()
		e := astiav.RescaleQ(pkt.Pts()+pkt.Duration(), tb, us)
		if start == noPTS {
			start = astiav.RescaleQ(pkt.Pts(), tb, us)
		}
		end = max(end, e)
	}
	if end == noPTS || start == noPTS {
		return 0, nil
	}
	return float64(end-start) / 1e6, nil
}
