package transcode

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/output"
)

// WriterConfig describes a mixed-media file.
type WriterConfig struct {
	Path   string
	Format output.Format
	// Width, Height and FPS of the video; ignored when AudioOnly.
	Width, Height, FPS int
	// VideoBitrate in bits per second; 0 picks a default for the size.
	VideoBitrate int
	// AudioBitrate in bits per second; 0 means 64 kb/s (Opus) or 96 kb/s (AAC).
	AudioBitrate int
	AudioOnly    bool
	// Threads for the video encoder (0 = 1).
	Threads int
}

// FileWriter encodes pictures and mono audio and muxes them into one file:
// VP8 + Opus in WebM, H.264 + AAC in fragmented MP4.
type FileWriter struct {
	video, audio *Encoder
	mux          *Muxer
}

// NewFileWriter opens the encoders and creates the file.
func NewFileWriter(cfg WriterConfig) (w *FileWriter, err error) {
	if _, err := output.ParseFormat(string(cfg.Format)); err != nil {
		return nil, err
	}
	w = &FileWriter{}
	defer func() {
		if err != nil {
			w.free()
		}
	}()
	global := cfg.Format.NeedsGlobalHeader()
	if !cfg.AudioOnly {
		br := cfg.VideoBitrate
		if br <= 0 {
			br = sizeBitrate(cfg.Width, cfg.Height, cfg.FPS)
		}
		w.video, err = NewVideoEncoder(VideoConfig{
			Codec: cfg.Format.VideoCodec(), Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS,
			Bitrate: br, Threads: cfg.Threads, GlobalHeader: global,
		})
		if err != nil {
			return w, err
		}
	}
	abr := cfg.AudioBitrate
	if abr <= 0 {
		abr = cfg.Format.AudioBitrate()
	}
	if w.audio, err = NewAudioEncoder(AudioConfig{Codec: cfg.Format.AudioCodec(), Bitrate: abr, GlobalHeader: global}); err != nil {
		return w, err
	}
	if w.mux, err = NewMuxer(cfg.Path, cfg.Format, w.video, w.audio); err != nil {
		return w, err
	}
	return w, nil
}

func sizeBitrate(w, h, fps int) int {
	q := output.Q720
	switch {
	case h <= 360:
		q = output.Q360
	case h <= 480:
		q = output.Q480
	}
	return q.VideoBitrate(fps)
}

// WriteVideo encodes picture f as frame number pts (at the configured fps).
func (w *FileWriter) WriteVideo(f *astiav.Frame, pts int64) error {
	if w.video == nil {
		return nil
	}
	return w.video.EncodeVideo(f, pts, func(p *astiav.Packet) error { return w.mux.Write(w.video, p) })
}

// WriteAudio encodes mono samples at SampleRate, following the previous ones.
func (w *FileWriter) WriteAudio(s []float32) error {
	return w.audio.EncodeAudio(s, false, func(p *astiav.Packet) error { return w.mux.Write(w.audio, p) })
}

// ForceKeyframe makes the next picture a keyframe.
func (w *FileWriter) ForceKeyframe() {
	if w.video != nil {
		w.video.ForceKeyframe()
	}
}

// Close drains the encoders, finishes the file and frees everything. The
// file is complete only if Close returns nil.
func (w *FileWriter) Close() error {
	var errs []error
	if w.video != nil && w.mux != nil {
		errs = append(errs, w.video.EncodeVideo(nil, 0, func(p *astiav.Packet) error { return w.mux.Write(w.video, p) }))
	}
	if w.audio != nil && w.mux != nil {
		errs = append(errs, w.audio.EncodeAudio(nil, true, func(p *astiav.Packet) error { return w.mux.Write(w.audio, p) }))
	}
	if w.mux != nil {
		errs = append(errs, w.mux.Close())
	}
	w.free()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transcode: finishing file: %w", err)
	}
	return nil
}

func (w *FileWriter) free() {
	if w.mux != nil {
		_ = w.mux.Close()
		w.mux = nil
	}
	if w.video != nil {
		w.video.Close()
		w.video = nil
	}
	if w.audio != nil {
		w.audio.Close()
		w.audio = nil
	}
}
