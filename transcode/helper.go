package transcode

// #cgo pkg-config: libavutil libswscale libswresample
// #include "mcu_helper.h"
import "C"

import (
	"fmt"
	"image"
	"unsafe"

	"github.com/asticode/go-astiav"
)

func avFrame(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

func averr(ret C.int) error {
	if ret >= 0 {
		return nil
	}
	return astiav.Error(int(ret))
}

// scaler scales pictures into a rectangle of a destination frame. It keeps
// one cached libswscale context, rebuilt only when sizes or formats change,
// and the scratch frame the picture is scaled into before being copied.
type scaler struct {
	ctx     *C.struct_SwsContext
	scratch *C.AVFrame
}

// scaleFlags trades a little sharpness for speed: tiles are downscaled.
const scaleFlags = C.SWS_FAST_BILINEAR

func (s *scaler) scaleInto(src, dst *astiav.Frame, r image.Rectangle) error {
	ret := C.mcu_scale_into(&s.ctx, &s.scratch, avFrame(src), avFrame(dst), C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy()), scaleFlags)
	if ret < 0 {
		return fmt.Errorf("transcode: scaling %dx%d into %v: %w", src.Width(), src.Height(), r, averr(ret))
	}
	return nil
}

func (s *scaler) free() {
	C.mcu_sws_free(&s.ctx, &s.scratch)
}

func makeWritable(f *astiav.Frame) error {
	return averr(C.mcu_frame_make_writable(avFrame(f)))
}

func fillRect(f *astiav.Frame, r image.Rectangle, c YUV) {
	C.mcu_fill_rect(avFrame(f), C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy()), C.uint8_t(c.Y), C.uint8_t(c.U), C.uint8_t(c.V))
}

func drawMask(f *astiav.Frame, x, y int, mask []byte, w, h int, luma uint8) {
	if len(mask) < w*h || w == 0 || h == 0 {
		return
	}
	C.mcu_draw_mask(avFrame(f), C.int(x), C.int(y), (*C.uint8_t)(unsafe.Pointer(&mask[0])), C.int(w), C.int(h), C.uint8_t(luma))
}

func writeSamples(f *astiav.Frame, s []float32) error {
	if len(s) == 0 {
		return nil
	}
	ret := C.mcu_write_samples(avFrame(f), (*C.float)(unsafe.Pointer(&s[0])), C.int(len(s)))
	return averr(ret)
}

// resampler converts decoded audio of any layout, format and rate to mono
// float32 at the mixer's rate.
type resampler struct {
	ctx              *C.SwrContext
	rate             int
	inRate, inFormat int
	inChannels       int
	buf              []float32
}

// convert returns the samples of f; the slice is reused by the next call.
func (r *resampler) convert(f *astiav.Frame) ([]float32, error) {
	af := avFrame(f)
	if r.ctx != nil && (int(af.sample_rate) != r.inRate || int(af.format) != r.inFormat || int(af.ch_layout.nb_channels) != r.inChannels) {
		C.mcu_swr_free(&r.ctx)
	}
	r.inRate, r.inFormat, r.inChannels = int(af.sample_rate), int(af.format), int(af.ch_layout.nb_channels)
	if r.inRate <= 0 {
		return nil, fmt.Errorf("transcode: audio frame without sample rate")
	}
	need := f.NbSamples()*r.rate/r.inRate + 256
	if cap(r.buf) < need {
		r.buf = make([]float32, need)
	}
	r.buf = r.buf[:need]
	n := C.mcu_resample(&r.ctx, af, (*C.float)(unsafe.Pointer(&r.buf[0])), C.int(need), C.int(r.rate))
	if n < 0 {
		return nil, fmt.Errorf("transcode: resampling audio: %w", averr(n))
	}
	return r.buf[:n], nil
}

// flush returns what the resampler still holds.
func (r *resampler) flush() []float32 {
	if r.ctx == nil {
		return nil
	}
	if cap(r.buf) < 4096 {
		r.buf = make([]float32, 4096)
	}
	r.buf = r.buf[:4096]
	n := C.mcu_resample_flush(&r.ctx, (*C.float)(unsafe.Pointer(&r.buf[0])), 4096)
	if n <= 0 {
		return nil
	}
	return r.buf[:n]
}

func (r *resampler) free() {
	if r.ctx != nil {
		C.mcu_swr_free(&r.ctx)
	}
}

// noPTS is FFmpeg's AV_NOPTS_VALUE.
const noPTS = int64(-1 << 63)

// bestEffortPTS is the decoder's best guess of a frame's timestamp.
func bestEffortPTS(f *astiav.Frame) int64 { return int64(C.mcu_frame_best_effort_pts(avFrame(f))) }

// frameDuration is the duration of a decoded frame in its stream time base, or 0.
func frameDuration(f *astiav.Frame) int64 { return int64(C.mcu_frame_duration(avFrame(f))) }
