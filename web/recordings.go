package web

import (
	"errors"
	"mime"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/disk"
	"github.com/mcu-dev/mcu/health"
	"github.com/mcu-dev/mcu/mcu"
)

func (a *api) recordingRoutes(g *gin.Engine) {
	authed, link := a.authenticate(false), a.authenticate(true)
	g.POST("/api/rooms/:room/recordings", authed, a.startRecording)
	g.GET("/api/recordings", authed, a.listRecordings)
	g.GET("/api/recordings/:id", authed, a.getRecording)
	g.POST("/api/recordings/:id/stop", authed, a.stopRecording)
	g.GET("/api/recordings/:id/download", link, a.downloadRecording)
	g.HEAD("/api/recordings/:id/download", link, a.downloadRecording)
	g.DELETE("/api/recordings/:id", authed, a.deleteRecording)
	g.GET("/api/recordings/:id/timeline.vtt", link, a.timeline(".vtt", "text/vtt; charset=utf-8"))
	g.GET("/api/recordings/:id/timeline.json", link, a.timeline(".timeline.json", "application/json"))
}

// timeline serves a recording's speaker timeline, written when the
// recording ends: 409 while it is still recording.
func (a *api) timeline(ext, ctype string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := a.recording(c, canDownload); !ok {
			return
		}
		path, rec, err := a.recorder.TimelinePath(c.Param("id"), ext)
		if err != nil {
			a.recordingError(c, err)
			return
		}
		if rec.State == mcu.StateRecording {
			apiError(c, http.StatusConflict, "recording "+rec.ID+" is still running: its timeline is written when it ends")
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			apiError(c, http.StatusNotFound, "recording "+rec.ID+" has no timeline")
			return
		}
		c.Data(http.StatusOK, ctype, data)
	}
}

func (a *api) recordingError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, mcu.ErrRecordingNotFound):
		apiError(c, http.StatusNotFound, "recording "+c.Param("id")+" not found")
	case errors.Is(err, mcu.ErrRoomNotFound):
		apiError(c, http.StatusNotFound, "room "+c.Param("room")+" not found: recordings start in a room with participants")
	case errors.Is(err, mcu.ErrBadRecording):
		apiError(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, mcu.ErrClosed):
		apiError(c, http.StatusServiceUnavailable, "server is shutting down")
	case errors.Is(err, health.ErrDraining), errors.Is(err, mcu.ErrTooManyRecordings):
		apiError(c, http.StatusServiceUnavailable, err.Error())
	case disk.IsFull(err):
		apiError(c, http.StatusInsufficientStorage, err.Error())
	default:
		a.log.Error("recording API", "err", err)
		apiError(c, http.StatusInternalServerError, err.Error())
	}
}

func (a *api) startRecording(c *gin.Context) {
	if !a.allowed(c, func(cl *auth.Claims) error { return cl.Record(c.Param("room")) }) {
		return
	}
	if a.cluster != nil {
		// Before the body is read: it goes along to the room's node.
		if _, err := a.rooms.Room(c.Param("room")); err != nil && a.forwardRoom(c, c.Param("room")) {
			return
		}
	}
	var o mcu.RecordingOptions
	if c.Request.ContentLength != 0 {
		if err := decodeJSON(c, &o); err != nil {
			apiError(c, http.StatusBadRequest, err.Error())
			return
		}
	}
	rec, err := a.recorder.Start(c.Param("room"), o)
	if err != nil {
		a.recordingError(c, err)
		return
	}
	c.JSON(http.StatusCreated, a.withLink(rec))
}

// listRecordings lists the recordings of the rooms the token may record;
// roomList sees them all.
func (a *api) listRecordings(c *gin.Context) {
	claims := claimsOf(c)
	sees := func(room string) bool { return claims == nil || claims.SeesRecordingsOf(room) }
	out := []mcu.Recording{}
	local := map[string]bool{}
	for _, r := range a.recorder.List() {
		local[r.ID] = true
		if sees(r.Room) {
			out = append(out, a.withLink(r))
		}
	}
	if a.cluster == nil {
		c.JSON(http.StatusOK, gin.H{"recordings": out})
		return
	}
	c.JSON(http.StatusOK, gin.H{"recordings": a.withRemote(c, out, local, sees)})
}

func (a *api) getRecording(c *gin.Context) {
	if rec, ok := a.recording(c, canRecord); ok {
		c.JSON(http.StatusOK, a.withLink(rec))
	}
}

func (a *api) stopRecording(c *gin.Context) {
	if _, ok := a.recording(c, canRecord); !ok {
		return
	}
	rec, err := a.recorder.Stop(c.Param("id"))
	if err != nil {
		a.recordingError(c, err)
		return
	}
	c.JSON(http.StatusOK, a.withLink(rec))
}

func (a *api) deleteRecording(c *gin.Context) {
	if _, ok := a.recording(c, canRecord); !ok {
		return
	}
	path, rec, err := a.recorder.Path(c.Param("id"))
	if err != nil {
		a.recordingError(c, err)
		return
	}
	if err := checkFile(path, rec); err != nil {
		a.log.Warn("refusing to delete a recording whose file is not a plain file in the recordings directory", "id", rec.ID, "file", rec.File)
		apiError(c, http.StatusConflict, "recording "+rec.ID+" points outside the recordings directory; remove it by hand")
		return
	}
	if err := a.recorder.Delete(c.Param("id")); err != nil {
		a.recordingError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// downloadRecording serves the file with Range support. A recording still
// running is served as far as it has been written, which plays: WebM is
// written cluster by cluster and MP4 fragment by fragment.
func (a *api) downloadRecording(c *gin.Context) {
	if _, ok := a.recording(c, canDownload); !ok {
		return
	}
	path, rec, err := a.recorder.Path(c.Param("id"))
	if err != nil {
		a.recordingError(c, err)
		return
	}
	if err := checkFile(path, rec); err != nil {
		a.log.Warn("refusing to serve a recording whose file is not a plain file in the recordings directory", "id", rec.ID, "file", rec.File)
		apiError(c, http.StatusNotFound, "recording file is missing")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		apiError(c, http.StatusNotFound, "recording file is missing")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		apiError(c, http.StatusInternalServerError, err.Error())
		return
	}
	ctype := "video/webm"
	switch {
	case rec.Format == "mp4" && rec.AudioOnly:
		ctype = "audio/mp4"
	case rec.Format == "mp4":
		ctype = "video/mp4"
	case rec.AudioOnly:
		ctype = "audio/webm"
	}
	c.Header("Content-Type", ctype)
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.FileName()}))
	if rec.State == mcu.StateRecording {
		c.Header("Cache-Control", "no-store")
	}
	http.ServeContent(c.Writer, c.Request, "", st.ModTime(), f)
}
