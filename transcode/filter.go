package transcode

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// videoFilter runs frames through a one-input, one-output libavfilter graph.
// The graph is built on the first frame, from that frame's size and format,
// and rebuilt if they change.
type videoFilter struct {
	spec       string
	graph      *astiav.FilterGraph
	src, sink  *astiav.FilterContext
	out        *astiav.Frame
	w, h       int
	pixFmt     astiav.PixelFormat
	configured bool
}

func newVideoFilter(spec string) *videoFilter {
	return &videoFilter{spec: spec, out: astiav.AllocFrame()}
}

func (v *videoFilter) build(f *astiav.Frame) error {
	v.freeGraph()
	g := astiav.AllocFilterGraph()
	if g == nil {
		return errors.New("transcode: allocating filter graph failed")
	}
	g.SetThreadCount(1)
	v.graph = g
	sar := f.SampleAspectRatio()
	if sar.Num() <= 0 || sar.Den() <= 0 {
		sar = astiav.NewRational(1, 1)
	}
	var err error
	v.src, err = g.NewFilterContext(astiav.FindFilterByName("buffer"), "in", astiav.FilterArgs{
		"pix_fmt":      strconv.Itoa(int(f.PixelFormat())),
		"pixel_aspect": sar.String(),
		"time_base":    "1/1000",
		"video_size":   strconv.Itoa(f.Width()) + "x" + strconv.Itoa(f.Height()),
	})
	if err != nil {
		return fmt.Errorf("transcode: creating filter source: %w", err)
	}
	v.sink, err = g.NewFilterContext(astiav.FindFilterByName("buffersink"), "out", nil)
	if err != nil {
		return fmt.Errorf("transcode: creating filter sink: %w", err)
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(v.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(v.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	if err := g.Parse(v.spec, inputs, outputs); err != nil {
		return fmt.Errorf("transcode: parsing filter %q: %w", v.spec, err)
	}
	if err := g.Configure(); err != nil {
		return fmt.Errorf("transcode: configuring filter %q: %w", v.spec, err)
	}
	v.w, v.h, v.pixFmt, v.configured = f.Width(), f.Height(), f.PixelFormat(), true
	return nil
}

// apply filters f and calls fn with each output frame (reused after fn returns).
func (v *videoFilter) apply(f *astiav.Frame, fn func(*astiav.Frame) error) error {
	if !v.configured || f.Width() != v.w || f.Height() != v.h || f.PixelFormat() != v.pixFmt {
		if err := v.build(f); err != nil {
			return err
		}
	}
	if err := v.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return fmt.Errorf("transcode: feeding filter: %w", err)
	}
	for {
		v.out.Unref()
		err := v.sink.BuffersinkGetFrame(v.out, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("transcode: reading filter: %w", err)
		}
		if err := fn(v.out); err != nil {
			return err
		}
	}
}

func (v *videoFilter) freeGraph() {
	if v.graph != nil {
		v.graph.Free()
		v.graph, v.src, v.sink = nil, nil, nil
	}
	v.configured = false
}

func (v *videoFilter) close() {
	v.freeGraph()
	if v.out != nil {
		v.out.Free()
		v.out = nil
	}
}

// rotationFilter returns the filter that turns a picture stored with a
// display rotation of deg degrees clockwise upright, or "" for none.
func rotationFilter(deg float64) string {
	d := int(deg) % 360
	if d < 0 {
		d += 360
	}
	switch {
	case d > 45 && d <= 135:
		return "transpose=clock"
	case d > 135 && d <= 225:
		return "hflip,vflip"
	case d > 225 && d <= 315:
		return "transpose=cclock"
	}
	return ""
}
