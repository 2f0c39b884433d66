package transcode

import (
	"errors"
	"image"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/output"
)

// TestWriterSurvivesCrash writes 4 s of media and, without finishing the
// file, checks that what is on disk already plays: the state a killed
// process leaves behind.
func TestWriterSurvivesCrash(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	for _, f := range []output.Format{output.WebM, output.MP4} {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut."+string(f))
			w, err := NewFileWriter(WriterConfig{Path: path, Format: f, Width: 640, Height: 360, FPS: 15})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			c, err := NewCanvas(640, 360)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			audio := make([]float32, SampleRate/15)
			const frames = 60
			for i := 0; i < frames; i++ {
				if err := c.Begin(); err != nil {
					t.Fatal(err)
				}
				c.Fill(image.Rect(0, 0, 640, 360), RGB(uint8(i*4), 100, 200))
				if err := w.WriteVideo(c.Frame(), int64(i)); err != nil {
					t.Fatal(err)
				}
				if err := w.WriteAudio(audio); err != nil {
					t.Fatal(err)
				}
			}
			p := mediatest.ProbeFile(t, path, true)
			v := p.Video()
			if v == nil {
				t.Fatalf("cut %s file has no decodable video: %+v", f, p.Streams)
			}
			n, _ := strconv.Atoi(v.NbFrames)
			// Everything but the last second (one cluster or fragment) must play.
			if n < frames-15-1 {
				t.Errorf("cut %s file plays %d of %d frames", f, n, frames)
			}
		})
	}
}

// writeRotated remuxes src into an MP4 whose video carries a display matrix
// rotating it by deg degrees clockwise, as phones write portrait video.
func writeRotated(t *testing.T, src, dst string, deg float64) {
	t.Helper()
	in := astiav.AllocFormatContext()
	defer in.Free()
	if err := in.OpenInput(src, nil, nil); err != nil {
		t.Fatal(err)
	}
	defer in.CloseInput()
	if err := in.FindStreamInfo(nil); err != nil {
		t.Fatal(err)
	}
	out, err := astiav.AllocOutputFormatContext(nil, "mp4", dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Free()
	is := in.Streams()[0]
	os := out.NewStream(nil)
	if err := is.CodecParameters().Copy(os.CodecParameters()); err != nil {
		t.Fatal(err)
	}
	os.CodecParameters().SetCodecTag(0)
	os.SetTimeBase(is.TimeBase())
	if err := os.AddSideData(astiav.PacketSideDataTypeDisplaymatrix, astiav.NewDisplayMatrixFromRotation(-deg).Bytes()); err != nil {
		t.Fatal(err)
	}
	pb, err := astiav.OpenIOContext(dst, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		t.Fatal(err)
	}
	out.SetPb(pb)
	if err := out.WriteHeader(nil); err != nil {
		t.Fatal(err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for {
		if err := in.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			t.Fatal(err)
		}
		pkt.SetStreamIndex(0)
		pkt.RescaleTs(is.TimeBase(), os.TimeBase())
		if err := out.WriteInterleavedFrame(pkt); err != nil {
			t.Fatal(err)
		}
		pkt.Unref()
	}
	if err := out.WriteTrailer(); err != nil {
		t.Fatal(err)
	}
	_ = pb.Close()
}

// TestRotatedPhoneVideoIsUpright checks that a 320x240 picture stored with a
// 90° display rotation is decoded as 240x320.
func TestRotatedPhoneVideoIsUpright(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.mp4")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=yellow:s=320x240:r=15:d=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", plain)
	rotated := filepath.Join(dir, "rotated.mp4")
	writeRotated(t, plain, rotated, 90)

	m, err := OpenFile(rotated)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var w, h int
	for w == 0 {
		err := m.Read(func(d Decoded) error {
			if d.Video != nil && w == 0 {
				w, h = d.Video.Width(), d.Video.Height()
			}
			return nil
		})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if w != 240 || h != 320 {
		t.Fatalf("rotated video decoded as %dx%d, want 240x320", w, h)
	}
}

func TestOpenFileErrorsNameTheFile(t *testing.T) {
	_, err := OpenFile("/nonexistent/clip.webm")
	if err == nil || !contains(err.Error(), "/nonexistent/clip.webm") {
		t.Fatalf("error %v does not name the file", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestLogLimiter(t *testing.T) {
	l := &logLimiter{kinds: map[logKind]*logWindow{}}
	now := time.Now()
	k := logKind{"vp8", 8}
	logged := 0
	for i := 0; i < 1000; i++ {
		if ok, _ := l.allow(k, now.Add(time.Duration(i)*time.Millisecond)); ok {
			logged++
		}
	}
	if logged != logBurst {
		t.Fatalf("logged %d of 1000 messages in one window, want %d", logged, logBurst)
	}
	if ok, _ := l.allow(logKind{"opus", 8}, now); !ok {
		t.Fatal("another kind was suppressed")
	}
	ok, dropped := l.allow(k, now.Add(logInterval+time.Second))
	if !ok || dropped != 1000-logBurst {
		t.Fatalf("next window: logged %v, %d reported suppressed, want %d", ok, dropped, 1000-logBurst)
	}
}
