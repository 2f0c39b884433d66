package peer

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/transcode"
)

// ClipOptions describes a pre-encoded loop of camera-like video and a tone.
type ClipOptions struct {
	// Width, Height and FPS of the video (default 640x360 at 30).
	Width, Height, FPS int
	// Frames in the loop (default two seconds' worth).
	Frames int
	// KeyframeInterval in frames (default one second's worth).
	KeyframeInterval int
	// Bitrate of the VP8 video in bits per second (default 500 kb/s).
	Bitrate int
	// Colour of the background.
	Colour color.RGBA
	// Tone in Hz of the one-second Opus loop (default 440).
	Tone float64
}

// ClipFrame is one encoded VP8 picture.
type ClipFrame struct {
	Data []byte
	Key  bool
}

// Clip is media encoded once and replayed by many clients, so that a load
// generator spends its CPU on RTP and not on encoding: VP8 pictures of a
// coloured background with a bouncing box and scrolling stripes, and 20 ms
// Opus packets of a sine tone. Each picture carries its index as a bar code
// along its top edge, so that a receiver of the composite can tell which
// picture a tile shows (ReadIndex) and when it was sent.
type Clip struct {
	Width, Height int
	FPS           int
	Video         []ClipFrame
	Audio         [][]byte
	// Bytes is the size of one pass of the video loop.
	Bytes int
}

// NewClip encodes a clip with libvpx and libopus.
func NewClip(o ClipOptions) (*Clip, error) {
	if o.Width == 0 {
		o.Width, o.Height = 640, 360
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Frames == 0 {
		o.Frames = 2 * o.FPS
	}
	if o.KeyframeInterval == 0 {
		o.KeyframeInterval = o.FPS
	}
	if o.Bitrate == 0 {
		o.Bitrate = 500_000
	}
	if o.Tone == 0 {
		o.Tone = 440
	}
	if o.Frames > 1<<codeBits {
		return nil, fmt.Errorf("peer: a clip holds at most %d frames", 1<<codeBits)
	}
	clip := &Clip{Width: o.Width, Height: o.Height, FPS: o.FPS}
	if err := clip.encodeVideo(o); err != nil {
		return nil, err
	}
	if err := clip.encodeAudio(o.Tone); err != nil {
		return nil, err
	}
	return clip, nil
}

func (clip *Clip) encodeVideo(o ClipOptions) error {
	enc, err := transcode.NewVideoEncoder(transcode.VideoConfig{Codec: "vp8", Width: o.Width, Height: o.Height, FPS: o.FPS,
		Bitrate: o.Bitrate, KeyframeInterval: o.KeyframeInterval, ErrorResilient: true})
	if err != nil {
		return fmt.Errorf("peer: clip encoder: %w", err)
	}
	defer enc.Close()
	canvas, err := transcode.NewCanvas(o.Width, o.Height)
	if err != nil {
		return fmt.Errorf("peer: clip canvas: %w", err)
	}
	defer canvas.Close()
	bg := transcode.RGB(o.Colour.R, o.Colour.G, o.Colour.B)
	mask := make([]byte, o.Width*o.Height)
	keep := func(p *astiav.Packet) error {
		data := p.Data()
		clip.Video = append(clip.Video, ClipFrame{Data: data, Key: len(data) > 0 && data[0]&1 == 0})
		clip.Bytes += len(data)
		return nil
	}
	for i := 0; i < o.Frames; i++ {
		if err := canvas.Begin(); err != nil {
			return err
		}
		canvas.Fill(image.Rect(0, 0, o.Width, o.Height), bg)
		canvas.Fill(image.Rect(0, 0, o.Width, codeHeight(o.Height)), black)
		drawPattern(mask, o.Width, o.Height, i, o.Frames)
		canvas.DrawMask(0, 0, mask, o.Width, o.Height, 235)
		if err := enc.EncodeVideo(canvas.Frame(), int64(i), keep); err != nil {
			return fmt.Errorf("peer: encoding clip: %w", err)
		}
	}
	if err := enc.EncodeVideo(nil, 0, keep); err != nil {
		return fmt.Errorf("peer: flushing clip: %w", err)
	}
	if len(clip.Video) == 0 || !clip.Video[0].Key {
		return fmt.Errorf("peer: clip does not start with a keyframe")
	}
	return nil
}

// The bar code: codeBits cells holding the picture index (most significant
// first), then codeBits cells holding its complement, black or white, in a
// strip along the top of the picture.
const codeBits = 6

var black = transcode.YUV{Y: 16, U: 128, V: 128}

func codeHeight(h int) int { return (h / 10) &^ 1 }
func codeCell(w int) int   { return w / (2*codeBits + 2) }

// codeBit reports whether cell k of the bar code of index i is white.
func codeBit(i, k int) bool {
	if k < codeBits {
		return i>>(codeBits-1-k)&1 == 1
	}
	return i>>(2*codeBits-1-k)&1 == 0
}

// drawPattern writes frame i of n into mask (coverage of a bright luma): the
// bar code, a box bouncing across the picture, soft stripes scrolling through
// the lower third, and a faint static texture, so that the picture moves the
// way a camera picture does and the loop closes on itself.
func drawPattern(mask []byte, w, h, i, n int) {
	phase := float64(i) / float64(n)
	ch, cw := codeHeight(h), codeCell(w)
	bw, bh := w/4, h/3
	bx := int(float64(w-bw) * (0.5 + 0.5*math.Sin(2*math.Pi*phase)))
	by := ch + 4 + int(float64(h/2-bh)*(0.5+0.5*math.Sin(4*math.Pi*phase+1)))
	for y := 0; y < h; y++ {
		row := mask[y*w : (y+1)*w]
		if y < ch {
			for x := range row {
				row[x] = 0
				if k := x / cw; k < 2*codeBits && codeBit(i, k) {
					row[x] = 255
				}
			}
			continue
		}
		for x := range row {
			v := byte((x*7 + y*13 + (x*y)%17) % 24) // texture
			if y >= 2*h/3 {
				s := math.Sin(2 * math.Pi * (float64(x+y)/64 - phase*4))
				v = byte(90 + 60*s)
			}
			if x >= bx && x < bx+bw && y >= by && y < by+bh {
				v = 200
			}
			row[x] = v
		}
	}
}

func (clip *Clip) encodeAudio(tone float64) error {
	enc, err := transcode.NewAudioEncoder(transcode.AudioConfig{Codec: "opus", Bitrate: output.LiveAudioBitrate})
	if err != nil {
		return fmt.Errorf("peer: clip audio encoder: %w", err)
	}
	defer enc.Close()
	block := make([]float32, 960)
	n := 0
	for b := 0; b < 50; b++ {
		for i := range block {
			block[i] = float32(0.3 * math.Sin(2*math.Pi*tone*float64(n)/48000))
			n++
		}
		if err := enc.EncodeAudio(block, false, func(p *astiav.Packet) error {
			clip.Audio = append(clip.Audio, p.Data())
			return nil
		}); err != nil {
			return fmt.Errorf("peer: encoding clip audio: %w", err)
		}
	}
	// Drain the encoder, keeping exactly one second of packets.
	if err := enc.EncodeAudio(nil, true, func(p *astiav.Packet) error {
		clip.Audio = append(clip.Audio, p.Data())
		return nil
	}); err != nil {
		return fmt.Errorf("peer: flushing clip audio: %w", err)
	}
	if len(clip.Audio) < 50 {
		return fmt.Errorf("peer: clip audio has %d packets, want 50", len(clip.Audio))
	}
	clip.Audio = clip.Audio[:50]
	return nil
}

// ReadIndex reads the bar code of a clip picture drawn, scaled to r, in img,
// and returns the picture's index in the loop.
func (clip *Clip) ReadIndex(img *image.YCbCr, r image.Rectangle) (int, bool) {
	if img == nil || r.Dx() <= 0 || r.Dy() <= 0 {
		return 0, false
	}
	ch, cw := codeHeight(clip.Height), codeCell(clip.Width)
	i := 0
	for k := 0; k < 2*codeBits; k++ {
		x := r.Min.X + (k*cw+cw/2)*r.Dx()/clip.Width
		y := r.Min.Y + (ch/2)*r.Dy()/clip.Height
		white := lumaNear(img, x, y) > 125
		if k < codeBits && white {
			i |= 1 << (codeBits - 1 - k)
		}
		if k >= codeBits && white != codeBit(i, k) {
			return 0, false
		}
	}
	if i >= len(clip.Video) {
		return 0, false
	}
	return i, true
}

// lumaNear averages the 3x3 luma samples around (x, y).
func lumaNear(img *image.YCbCr, x, y int) int {
	sum, n := 0, 0
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			p := image.Pt(x+dx, y+dy)
			if p.In(img.Rect) {
				sum += int(img.Y[img.YOffset(p.X, p.Y)])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// nextKey returns the index of the first keyframe at or after i, wrapping.
func (clip *Clip) nextKey(i int) int {
	for k := 0; k < len(clip.Video); k++ {
		j := (i + k) % len(clip.Video)
		if clip.Video[j].Key {
			return j
		}
	}
	return 0
}
