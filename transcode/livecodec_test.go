package transcode

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/output"
)

// BenchmarkLiveEncoders encodes one conference-like 720p30 canvas (four
// 640x360 tiles, made losslessly with ffmpeg) with the room's two
// live encoders at the same 2 Mb/s, one thread each, side by side in one
// run: VP8 as libvpx realtime cpu-used 8 with error resilience, H.264 as
// libx264 ultrafast/zerolatency constrained baseline with its VBV cap. It
// reports each one's CPU per frame (the encoding thread's own time), its
// bitrate, and ffmpeg's SSIM of its output against the lossless canvas.
//
//	go test -run '^$' -bench LiveEncoders -benchtime 1x ./transcode
//	MCU_CANVAS_SECONDS=20 go test ... (default 10 s)
func BenchmarkLiveEncoders(b *testing.B) {
	mediatest.Need(b, "ffmpeg")
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("MCU_CANVAS_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	// MCU_CANVAS_NOISE: the strength of the sensor noise (default 6; 0 for
	// none).
	noise := "6"
	if n, err := strconv.Atoi(os.Getenv("MCU_CANVAS_NOISE")); err == nil && n >= 0 {
		noise = strconv.Itoa(n)
	}
	dir := b.TempDir()
	canvas := filepath.Join(dir, "canvas.mkv")
	tile := "s=640x360:r=30"
	// Four camera-like tiles: a test pattern in motion, a plain wall with a
	// slowly moving head-sized box, colour bars with a moving box, a slow
	// gradient; light sensor noise over everything, as webcams have.
	mediatest.FFmpeg(b,
		"-f", "lavfi", "-i", "testsrc2="+tile,
		"-f", "lavfi", "-i", "color=c=0x5a6a7a:"+tile,
		"-f", "lavfi", "-i", "smptebars="+tile,
		"-f", "lavfi", "-i", "gradients="+tile+":speed=0.02",
		"-filter_complex", "[1]drawbox=x='200+60*sin(t)':y=80:w=200:h=240:c=0xc09070:t=fill[h];"+
			"[2]drawbox=x='mod(t*120,560)':y=120:w=80:h=80:c=white:t=fill[b];"+
			"[0][h][b][3]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,noise=alls="+noise+":allf=t,format=yuv420p",
		"-t", strconv.Itoa(secs), "-c:v", "ffv1", canvas)
	// The room's default H.264 preset, and any others named in
	// MCU_H264_PRESETS ("superfast veryfast") for comparison.
	type enc struct{ name, codec, preset, ext string }
	encs := []enc{{"vp8", "vp8", "", "ivf"}, {"h264", "h264", output.DefaultLivePreset, "h264"}}
	for _, p := range strings.Fields(os.Getenv("MCU_H264_PRESETS")) {
		encs = append(encs, enc{"h264-" + p, "h264", p, "h264"})
	}
	for range b.N {
		for _, c := range encs {
			out := filepath.Join(dir, c.name+"."+c.ext)
			cpu, frames, bytes, err := encodeLive(canvas, out, c.codec, c.preset, output.Q720.VideoBitrate(30))
			if err != nil {
				b.Fatal(err)
			}
			ssim := ssimOf(b, out, canvas, frames)
			b.ReportMetric(float64(cpu.Microseconds())/float64(frames), c.name+"-cpu-µs/frame")
			b.ReportMetric(float64(bytes)*8/float64(secs)/1000, c.name+"-kb/s")
			b.ReportMetric(ssim, c.name+"-ssim")
		}
	}
}

// encodeLive encodes every picture of canvas with the live encoder of codec
// into out (IVF for VP8, Annex B for H.264) and returns the encoding
// thread's CPU time.
func encodeLive(canvas, out, codec, preset string, bitrate int) (cpu time.Duration, frames, bytes int, err error) {
	in, err := OpenFile(canvas)
	if err != nil {
		return 0, 0, 0, err
	}
	defer in.Close()
	enc, err := NewVideoEncoder(VideoConfig{Codec: codec, Width: 1280, Height: 720, FPS: 30, Bitrate: bitrate,
		ErrorResilient: true, Preset: preset, Live: true})
	if err != nil {
		return 0, 0, 0, err
	}
	defer enc.Close()
	f, err := os.Create(out)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	if codec == "vp8" {
		hdr := make([]byte, 32)
		copy(hdr, "DKIF")
		binary.LittleEndian.PutUint16(hdr[6:], 32)
		copy(hdr[8:], "VP80")
		binary.LittleEndian.PutUint16(hdr[12:], 1280)
		binary.LittleEndian.PutUint16(hdr[14:], 720)
		binary.LittleEndian.PutUint32(hdr[16:], 30)
		binary.LittleEndian.PutUint32(hdr[20:], 1)
		if _, err := f.Write(hdr); err != nil {
			return 0, 0, 0, err
		}
	}
	var pts int64
	write := func(p *astiav.Packet) error {
		data := p.Data()
		bytes += len(data)
		if codec == "vp8" {
			var fh [12]byte
			binary.LittleEndian.PutUint32(fh[:], uint32(len(data)))
			binary.LittleEndian.PutUint64(fh[4:], uint64(p.Pts()))
			if _, err := f.Write(fh[:]); err != nil {
				return err
			}
		}
		_, err := f.Write(data)
		return err
	}
	// The encoder runs on this thread only: its CPU time is the thread's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for err == nil {
		err = in.Read(func(d Decoded) error {
			if d.Video == nil {
				return nil
			}
			before := threadCPU()
			e := enc.EncodeVideo(d.Video, pts, write)
			cpu += threadCPU() - before
			pts++
			frames++
			return e
		})
	}
	before := threadCPU()
	if e := enc.EncodeVideo(nil, 0, write); e != nil {
		return 0, 0, 0, e
	}
	cpu += threadCPU() - before
	if frames == 0 {
		return 0, 0, 0, fmt.Errorf("no pictures in %s", canvas)
	}
	return cpu, frames, bytes, nil
}

// threadCPU is the calling thread's user and system time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var ssimAll = regexp.MustCompile(`All:([0-9.]+)`)

// ssimOf is ffmpeg's SSIM of encoded against reference, picture by picture.
// Both streams are renumbered 0, 1, 2... before the comparison: a raw H.264
// stream carries no timestamps and the demuxer invents them at its own rate,
// so matching by timestamp would compare neighbouring pictures (that once
// cost H.264 a whole 0.006 here). Renumbering is only right when the
// encoder kept every picture, so the count is checked first.
func ssimOf(b *testing.B, encoded, reference string, frames int) float64 {
	b.Helper()
	n, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", encoded).Output()
	if err != nil {
		b.Fatalf("ffprobe %s: %v", encoded, err)
	}
	if got := strings.TrimSpace(string(n)); got != strconv.Itoa(frames) {
		b.Fatalf("%s holds %s pictures, %d were encoded", encoded, got, frames)
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", encoded, "-i", reference,
		"-lavfi", "[0:v]settb=1/30,setpts=N[e];[1:v]settb=1/30,setpts=N[r];[e][r]ssim",
		"-f", "null", "-").CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg ssim: %v: %s", err, out)
	}
	m := ssimAll.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no SSIM in ffmpeg's output: %s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
