package mcu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/transcode"
)

// ComposeInput is one recording to place in the grid.
type ComposeInput struct {
	Path string
	// Offset delays the input's start in the output, in seconds.
	Offset float64
	// Name labels the input's placeholder; defaults to the file name.
	Name string
}

// ComposeOptions configures Compose.
type ComposeOptions struct {
	Output  string
	Quality output.Quality
	FPS     int
	Inputs  []ComposeInput
	// Threads for the video encoder (0 = 1).
	Threads int
	// Progress, if set, is called about twice a second.
	Progress func(ComposeProgress)
}

// ComposeProgress reports how far a compose has got.
type ComposeProgress struct {
	// Done and Total are output seconds; Total is an estimate from the inputs.
	Done, Total float64
	Elapsed     time.Duration
}

// ComposeResult summarises a finished compose.
type ComposeResult struct {
	Output   string
	Duration float64
	Size     int64
	Frames   int64
	Elapsed  time.Duration
}

// ParseComposeInput reads an input argument, PATH or PATH@SECONDS.
func ParseComposeInput(arg string) (ComposeInput, error) {
	in := ComposeInput{Path: arg}
	if i := strings.LastIndex(arg, "@"); i > 0 {
		var off float64
		if _, err := fmt.Sscanf(arg[i+1:], "%g", &off); err == nil && off >= 0 && !math.IsInf(off, 0) {
			in.Path, in.Offset = arg[:i], off
		} else if _, statErr := os.Stat(arg); statErr != nil {
			return in, fmt.Errorf("input %q: offset after @ must be a number of seconds >= 0", arg)
		}
	}
	return in, nil
}

// composeSource is one input being read during a compose.
type composeSource struct {
	id     string
	file   *transcode.MediaFile
	offset float64
	track  mixer.Track
	queue  []timedFrame // decoded pictures not yet shown
	eof    bool
	ended  bool    // tile already turned into a placeholder
	vEnd   float64 // end of the last picture, input time
	aEnd   float64 // end of the last audio, input time
	lastV  float64 // time of the last picture, input time
	frames int
}

type timedFrame struct {
	f *astiav.Frame
	t float64
}

// Compose merges recordings into one grid file as long as the latest input
// end. The file is written under a temporary name and renamed when complete.
func Compose(ctx context.Context, o ComposeOptions) (res ComposeResult, err error) {
	start := time.Now()
	if len(o.Inputs) == 0 {
		return res, errors.New("compose: no inputs")
	}
	format, err := output.ParseFormat(strings.TrimPrefix(filepath.Ext(o.Output), "."))
	if err != nil {
		return res, fmt.Errorf("compose: output %q: extension must be .webm or .mp4", o.Output)
	}
	if _, err := output.ParseQuality(string(o.Quality)); err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}
	if _, err := output.ParseFPS(o.FPS); err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}

	var total float64
	sources := make([]*composeSource, 0, len(o.Inputs))
	defer func() {
		for _, s := range sources {
			s.close()
		}
	}()
	tiles := make([]mixer.Tile, 0, len(o.Inputs))
	for i, in := range o.Inputs {
		d, err := transcode.ProbeDuration(in.Path)
		if err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}
		f, err := transcode.OpenFile(in.Path)
		if err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}
		s := &composeSource{id: fmt.Sprint(i), file: f, offset: in.Offset}
		sources = append(sources, s)
		name := in.Name
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(in.Path), filepath.Ext(in.Path))
		}
		tiles = append(tiles, mixer.Tile{ID: s.id, Name: name})
		total = max(total, in.Offset+d)
	}

	w, h := o.Quality.Size()
	comp, err := mixer.NewCompositor(w, h)
	if err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}
	defer comp.Close()
	comp.StaleAfter = 0 // files: hold each picture until the next or the end
	comp.SetTiles(tiles)

	tmp := o.Output + ".part"
	writer, err := transcode.NewFileWriter(transcode.WriterConfig{
		Path: tmp, Format: format, Width: w, Height: h, FPS: o.FPS, Threads: o.Threads,
	})
	if err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}
	defer func() {
		if writer != nil {
			_ = writer.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()

	epoch := time.Unix(0, 0)
	ins := make([][]float32, len(sources))
	var mix []float32
	lim := mixer.NewLimiter()
	lastReport := time.Now()
	var frame int64
	for ; ; frame++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}
		t := float64(frame) / float64(o.FPS)
		next := float64(frame+1) / float64(o.FPS)
		done := true
		for _, s := range sources {
			if err := s.fill(t, next); err != nil {
				return res, fmt.Errorf("compose: %w", err)
			}
			if !s.eof || t < s.offset+max(s.vEnd, s.aEnd) {
				done = false
			}
		}
		if done {
			break
		}
		for _, s := range sources {
			if err := s.show(comp, t, epoch); err != nil {
				return res, fmt.Errorf("compose: %w", err)
			}
		}
		pic, err := comp.Render(epoch.Add(time.Duration(t * float64(time.Second))))
		if err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}
		if err := writer.WriteVideo(pic, frame); err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}

		// Audio for [t, next).
		n := int(samplePos(next) - samplePos(t))
		if cap(mix) < n {
			mix = make([]float32, n)
		}
		mix = mix[:n]
		for i, s := range sources {
			if cap(ins[i]) < n {
				ins[i] = make([]float32, n)
			}
			ins[i] = ins[i][:n]
			s.track.Take(ins[i])
		}
		mixer.Mix(ins, mix, lim, nil, nil)
		if err := writer.WriteAudio(mix); err != nil {
			return res, fmt.Errorf("compose: %w", err)
		}

		if o.Progress != nil && time.Since(lastReport) >= 500*time.Millisecond {
			lastReport = time.Now()
			o.Progress(ComposeProgress{Done: next, Total: max(total, next), Elapsed: time.Since(start)})
		}
	}
	werr := writer.Close()
	writer = nil
	if werr != nil {
		return res, fmt.Errorf("compose: %w", werr)
	}
	if err := os.Rename(tmp, o.Output); err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}
	st, err := os.Stat(o.Output)
	if err != nil {
		return res, fmt.Errorf("compose: %w", err)
	}
	res = ComposeResult{Output: o.Output, Duration: float64(frame) / float64(o.FPS), Size: st.Size(), Frames: frame, Elapsed: time.Since(start)}
	if o.Progress != nil {
		o.Progress(ComposeProgress{Done: res.Duration, Total: res.Duration, Elapsed: res.Elapsed})
	}
	return res, nil
}

func samplePos(t float64) int64 { return int64(math.Round(t * mixer.SampleRate)) }

// fill reads the source until it holds the picture for output time t and
// the audio up to next, or until it ends. Sources that start later are not
// read before their time.
func (s *composeSource) fill(t, next float64) error {
	if s.eof || next < s.offset {
		return nil
	}
	needAudio := samplePos(next)
	for !s.eof {
		haveVideo := !s.file.HasVideo() || (len(s.queue) > 0 && s.queue[len(s.queue)-1].t+s.offset > t)
		haveAudio := !s.file.HasAudio() || s.track.End() >= needAudio
		// Audio that ends early or has a gap must not make us decode the
		// rest of the video into memory: a second of look-ahead is enough,
		// the missing audio is silence.
		if len(s.queue) > 0 && s.queue[len(s.queue)-1].t+s.offset > next+1 {
			haveAudio = true
		}
		// Likewise for video that ends before the audio.
		if s.track.End() > needAudio+mixer.SampleRate {
			haveVideo = true
		}
		if haveVideo && haveAudio {
			return nil
		}
		err := s.file.Read(s.take)
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// take receives one decoded item from the file.
func (s *composeSource) take(d transcode.Decoded) error {
	if d.Video != nil {
		t := d.Time
		if math.IsNaN(t) {
			t = s.lastV + 1.0/30
		}
		dur := d.Duration
		if dur <= 0 {
			dur = 1.0 / 30
			if s.frames > 0 && t > s.lastV {
				dur = t - s.lastV
			}
		}
		s.lastV = t
		s.frames++
		s.vEnd = max(s.vEnd, t+dur)
		f := astiav.AllocFrame()
		if err := f.Ref(d.Video); err != nil {
			f.Free()
			return err
		}
		s.queue = append(s.queue, timedFrame{f: f, t: t})
		return nil
	}
	if len(d.Audio) == 0 {
		return nil
	}
	if math.IsNaN(d.Time) {
		s.track.Append(d.Audio)
	} else {
		s.track.Place(samplePos(s.offset+d.Time), d.Audio)
	}
	s.aEnd = max(s.aEnd, float64(s.track.End())/mixer.SampleRate-s.offset)
	return nil
}

// show pushes the newest picture due at output time t to the compositor,
// and ends the tile once the input's video is over.
func (s *composeSource) show(c *mixer.Compositor, t float64, epoch time.Time) error {
	var due *astiav.Frame
	i := 0
	for ; i < len(s.queue) && s.queue[i].t+s.offset <= t+1e-6; i++ {
		if due != nil {
			due.Free()
		}
		due = s.queue[i].f
	}
	s.queue = s.queue[:copy(s.queue, s.queue[i:])]
	if due != nil {
		err := c.Push(s.id, due, epoch.Add(time.Duration(t*float64(time.Second))))
		due.Free()
		if err != nil {
			return err
		}
	}
	if !s.ended && s.eof && len(s.queue) == 0 && t >= s.offset+s.vEnd {
		s.ended = true
		c.End(s.id)
	}
	return nil
}

func (s *composeSource) close() {
	for _, q := range s.queue {
		q.f.Free()
	}
	s.queue = nil
	if s.file != nil {
		s.file.Close()
	}
}
