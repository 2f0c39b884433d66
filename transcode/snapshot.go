package transcode

// #include <libavutil/frame.h>
import "C"

import (
	"fmt"
	"image"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Snapshot copies a yuv420p frame into a Go image, for tests and
// thumbnails. (astiav's FrameData.ToImage reads chroma planes past their
// end in v0.16.0.)
func Snapshot(f *astiav.Frame) (*image.YCbCr, error) {
	if f.PixelFormat() != astiav.PixelFormatYuv420P && f.PixelFormat() != astiav.PixelFormatYuvj420P {
		return nil, fmt.Errorf("transcode: snapshot of %s frame not supported", f.PixelFormat())
	}
	w, h := f.Width(), f.Height()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	af := avFrame(f)
	copyPlane := func(dst []byte, dstStride int, plane int, pw, ph int) {
		src := unsafe.Pointer(af.data[plane])
		ls := int(af.linesize[plane])
		for y := 0; y < ph; y++ {
			row := unsafe.Slice((*byte)(unsafe.Add(src, y*ls)), pw)
			copy(dst[y*dstStride:y*dstStride+pw], row)
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	copyPlane(img.Y, img.YStride, 0, w, h)
	copyPlane(img.Cb, img.CStride, 1, cw, ch)
	copyPlane(img.Cr, img.CStride, 2, cw, ch)
	return img, nil
}
