package load

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is what one load run measured.
type Report struct {
	Date          string  `json:"date"`
	Rooms         int     `json:"rooms"`
	PerRoom       int     `json:"per_room"`
	Quality       string  `json:"quality"`
	FPS           int     `json:"fps"`
	Publish       string  `json:"publish"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	WindowSeconds float64 `json:"window_seconds"`

	// ServerCores is the server's CPU in cores (-1: not measured). When
	// ServerInProc is set it includes the load generator.
	ServerCores        float64 `json:"server_cpu_cores"`
	ServerCoresPerRoom float64 `json:"server_cpu_cores_per_room"`
	ServerPID          int     `json:"server_pid,omitempty"`
	ServerInProc       bool    `json:"server_in_process"`
	// LoadgenCores is this process's CPU (0 when the server runs in it).
	LoadgenCores float64 `json:"loadgen_cpu_cores"`
	// MachineBusy is the whole machine's busy CPU in cores, everyone included.
	MachineBusy  float64 `json:"machine_busy_cores"`
	MachineCores int     `json:"machine_cores"`

	// FPSMin and FPSMedian are over every receiver of every room.
	FPSMin    float64 `json:"fps_min"`
	FPSMedian float64 `json:"fps_median"`
	// RoomsHeld counts rooms whose every receiver got at least HeldFPS.
	RoomsHeld int     `json:"rooms_held"`
	HeldFPS   float64 `json:"held_fps"`
	// IntervalMS are the gaps between pictures arriving at receivers.
	IntervalMS Quantiles `json:"frame_interval_ms"`
	// DownlinkBytesPerSec is per receiver, RTP of both tracks.
	DownlinkBytesPerSec      Summary `json:"downlink_bytes_per_sec"`
	DownlinkVideoBytesPerSec float64 `json:"downlink_video_bytes_per_sec"`
	// LatencyMedianMS is the median over rooms of each room's own median
	// server-added latency (picture arrived to composite holding it sent).
	LatencyMedianMS  float64 `json:"latency_median_ms"`
	LatencyMaxRoomMS float64 `json:"latency_max_room_ms"`

	// EndToEndMS is measured by the watchers: from a publisher sending a
	// picture to the first packet of the first composite showing it
	// arriving, on loopback. It holds all the server does to a picture,
	// jitter buffer included, which the rooms' own measurement leaves out.
	EndToEndMS      Quantiles `json:"end_to_end_ms"`
	EndToEndSamples int       `json:"end_to_end_samples"`
	// UnreadTiles counts tile pictures whose bar code the watchers could
	// not read (a placeholder, a damaged picture).
	UnreadTiles int `json:"unread_tiles"`

	SilentReceivers int `json:"silent_receivers"`
	// ViewersPerRoom WHEP viewers watched each room; their downlink (RTP of
	// both tracks) and lowest fps are apart from the participants'.
	ViewersPerRoom            int     `json:"viewers_per_room"`
	ViewerDownlinkBytesPerSec Summary `json:"viewer_downlink_bytes_per_sec"`
	ViewerFPSMin              float64 `json:"viewer_fps_min"`
	SilentViewers             int     `json:"silent_viewers"`

	RoomReports []RoomReport `json:"room_reports"`
	Warnings    []string     `json:"warnings,omitempty"`
}

// Quantiles of a distribution.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// RoomReport is one room's share of a Report.
type RoomReport struct {
	Name         string `json:"name"`
	Participants int    `json:"participants"`
	// ServerFPS is the pictures the room encoded per second.
	ServerFPS         float64 `json:"server_fps"`
	ReceiverFPSMin    float64 `json:"receiver_fps_min"`
	ReceiverFPSMedian float64 `json:"receiver_fps_median"`
	IntervalP95MS     float64 `json:"frame_interval_p95_ms"`
	// InputFPSMin is the lowest decoded frame rate among the publishers.
	InputFPSMin     float64   `json:"input_fps_min"`
	LatencyMedianMS float64   `json:"latency_median_ms"`
	EndToEndMS      Quantiles `json:"end_to_end_ms"`
	PacketsLost     int64     `json:"packets_lost"`
	DecodeErrors    int64     `json:"decode_errors"`
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report, one metric a line.
func (r *Report) WriteText(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("rooms                       %d x %d participants, output %s@%d, publishers %s", r.Rooms, r.PerRoom, r.Quality, r.FPS, r.Publish)
	p("window                      %.1f s after %.1f s warm-up (%s)", r.WindowSeconds, r.WarmupSeconds, r.Date)
	switch {
	case r.ServerCores < 0:
		p("server_cpu_cores            not measured (give -server-pid)")
	case r.ServerInProc:
		p("server_cpu_cores            %.2f  (server in-process: INCLUDES the load generator)", r.ServerCores)
		p("server_cpu_cores_per_room   %.2f  (includes the load generator)", r.ServerCoresPerRoom)
	default:
		p("server_cpu_cores            %.2f  (pid %d)", r.ServerCores, r.ServerPID)
		p("server_cpu_cores_per_room   %.2f", r.ServerCoresPerRoom)
	}
	if !r.ServerInProc {
		p("loadgen_cpu_cores           %.2f", r.LoadgenCores)
	}
	p("machine_busy_cores          %.2f of %d (everything on the machine)", r.MachineBusy, r.MachineCores)
	p("receiver_fps                min %.1f  median %.1f", r.FPSMin, r.FPSMedian)
	p("rooms_held                  %d of %d at >= %.0f fps (every receiver)", r.RoomsHeld, r.Rooms, r.HeldFPS)
	p("frame_interval_ms           p50 %.1f  p95 %.1f  max %.1f", r.IntervalMS.P50, r.IntervalMS.P95, r.IntervalMS.Max)
	d := r.DownlinkBytesPerSec
	p("downlink_per_receiver       mean %.0f B/s = %.0f kb/s  (min %.0f, max %.0f kb/s; video %.0f kb/s; RTP headers included)",
		d.Mean, d.Mean*8/1000, d.Min*8/1000, d.Max*8/1000, r.DownlinkVideoBytesPerSec*8/1000)
	if r.ViewersPerRoom > 0 {
		v := r.ViewerDownlinkBytesPerSec
		p("whep_viewers                %d per room: downlink mean %.0f kb/s (min %.0f, max %.0f), fps min %.1f", r.ViewersPerRoom, v.Mean*8/1000, v.Min*8/1000, v.Max*8/1000, r.ViewerFPSMin)
	}
	p("latency_median_ms           %.1f  (server's own: decoded picture to composite sent; median of rooms, worst room %.1f)", r.LatencyMedianMS, r.LatencyMaxRoomMS)
	if r.EndToEndSamples > 0 {
		p("end_to_end_ms               p50 %.1f  p95 %.1f  max %.1f  (publisher send to composite received, %d pictures, %d unread)", r.EndToEndMS.P50, r.EndToEndMS.P95, r.EndToEndMS.Max, r.EndToEndSamples, r.UnreadTiles)
	}
	for _, rr := range r.RoomReports {
		p("room %-10s %d participants: server %.1f fps, receivers min %.1f median %.1f fps, interval p95 %.1f ms, inputs min %.1f fps, latency %.1f ms, end-to-end p50 %.1f ms, lost %d, decode errors %d",
			rr.Name, rr.Participants, rr.ServerFPS, rr.ReceiverFPSMin, rr.ReceiverFPSMedian, rr.IntervalP95MS, rr.InputFPSMin, rr.LatencyMedianMS, rr.EndToEndMS.P50, rr.PacketsLost, rr.DecodeErrors)
	}
	for _, s := range r.Warnings {
		p("warning: %s", s)
	}
	return nil
}

// TSVHeader names the columns of WriteTSV.
const TSVHeader = "rooms\tper_room\tquality\tfps\tserver_cores\tserver_cores_per_room\tloadgen_cores\tmachine_busy_cores\t" +
	"fps_min\tfps_median\trooms_held\tinterval_p50_ms\tinterval_p95_ms\tinterval_max_ms\t" +
	"downlink_kbps\tdownlink_min_kbps\tdownlink_max_kbps\tdownlink_video_kbps\t" +
	"latency_median_ms\tlatency_max_room_ms\te2e_p50_ms\te2e_p95_ms\te2e_samples\twarnings\t" +
	"viewers_per_room\tviewer_downlink_kbps\tviewer_fps_min"

// WriteTSV writes the report as one tab-separated line of TSVHeader's
// columns, for scripts that tabulate many runs.
func (r *Report) WriteTSV(w io.Writer) error {
	kbps := func(bytesPerSec float64) string { return fmt.Sprintf("%.0f", bytesPerSec*8/1000) }
	d := r.DownlinkBytesPerSec
	warnings := strings.Join(r.Warnings, "; ")
	if warnings == "" {
		warnings = "-"
	}
	_, err := fmt.Fprintf(w, "%d\t%d\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t%d\t%s\t%.1f\n",
		r.Rooms, r.PerRoom, r.Quality, r.FPS, r.ServerCores, r.ServerCoresPerRoom, r.LoadgenCores, r.MachineBusy,
		r.FPSMin, r.FPSMedian, r.RoomsHeld, r.IntervalMS.P50, r.IntervalMS.P95, r.IntervalMS.Max,
		kbps(d.Mean), kbps(d.Min), kbps(d.Max), kbps(r.DownlinkVideoBytesPerSec),
		r.LatencyMedianMS, r.LatencyMaxRoomMS, r.EndToEndMS.P50, r.EndToEndMS.P95, r.EndToEndSamples, warnings,
		r.ViewersPerRoom, kbps(r.ViewerDownlinkBytesPerSec.Mean), r.ViewerFPSMin)
	return err
}
