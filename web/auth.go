package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/mcu"
)

const claimsKey = "mcu.claims"

// recordingIDPattern is what the recorder makes (hex); anything else, such
// as "../x" or an absolute path, is no recording and never reaches the
// recorder or the file system.
var recordingIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// authenticate verifies the request's bearer token and keeps its claims
// for the handlers. Without keys (auth off) it lets everything through.
// With query set, an access_token query parameter is accepted too (the
// download links a browser follows).
func (a *api) authenticate(query bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.keys == nil {
			c.Next()
			return
		}
		token := auth.BearerToken(c.Request)
		if token == "" && query {
			token = c.Query("access_token")
		}
		claims, err := a.keys.Verify(token)
		if err != nil {
			if a.limiter != nil {
				a.limiter.Wait(c.Request.Context(), c.Request.RemoteAddr)
			}
			auth.WriteError(c.Writer, err)
			c.Abort()
			return
		}
		c.Set(claimsKey, claims)
		c.Next()
	}
}

// allowed runs check on the request's claims and answers 403 naming the
// missing grant when it fails. With auth off everything is allowed.
func (a *api) allowed(c *gin.Context, check func(*auth.Claims) error) bool {
	claims := claimsOf(c)
	if claims == nil {
		return true
	}
	if err := check(claims); err != nil {
		apiError(c, auth.Status(err), auth.Reason(err))
		return false
	}
	return true
}

func claimsOf(c *gin.Context) *auth.Claims {
	v, ok := c.Get(claimsKey)
	if !ok {
		return nil
	}
	claims, _ := v.(*auth.Claims)
	return claims
}

// recording looks up the recording named in the path after checking the
// id's shape, and checks the right to it with check.
func (a *api) recording(c *gin.Context, check func(*auth.Claims, mcu.Recording) error) (mcu.Recording, bool) {
	id := c.Param("id")
	if !recordingIDPattern.MatchString(id) {
		apiError(c, http.StatusNotFound, "recording "+id+" not found")
		return mcu.Recording{}, false
	}
	rec, err := a.recorder.Get(id)
	if errors.Is(err, mcu.ErrRecordingNotFound) && a.forwardRecording(c, id) {
		return rec, false
	}
	if err != nil {
		a.recordingError(c, err)
		return rec, false
	}
	if !a.allowed(c, func(cl *auth.Claims) error { return check(cl, rec) }) {
		return rec, false
	}
	return rec, true
}

func canRecord(cl *auth.Claims, rec mcu.Recording) error { return cl.Record(rec.Room) }

func canDownload(cl *auth.Claims, rec mcu.Recording) error { return cl.Download(rec.ID, rec.Room) }

// withLink gives a recording's download_url (and timeline_url) a
// short-lived token for that recording alone, so that a plain link works
// in a browser.
func (a *api) withLink(rec mcu.Recording) mcu.Recording {
	if a.keys == nil || rec.DownloadURL == "" {
		return rec
	}
	tok, err := a.keys.MintDownload(rec.ID)
	if err != nil {
		a.log.Error("minting download token", "id", rec.ID, "err", err)
		return rec
	}
	rec.DownloadURL += "?access_token=" + url.QueryEscape(tok)
	if rec.TimelineURL != "" {
		rec.TimelineURL += "?access_token=" + url.QueryEscape(tok)
	}
	return rec
}

// errUnsafeFile is a recording whose file would not be a plain file inside
// the recordings directory (metadata edited by hand, a symlink planted).
var errUnsafeFile = errors.New("web: recording file is not a plain file in the recordings directory")

// checkFile refuses a recording file that is not a regular file named
// directly in the recordings directory: nothing outside it is ever served
// or deleted.
func checkFile(path string, rec mcu.Recording) error {
	if rec.File == "" || rec.File != filepath.Base(rec.File) || rec.File == "." || rec.File == ".." ||
		filepath.IsAbs(rec.File) || strings.ContainsAny(rec.File, `/\`) {
		return errUnsafeFile
	}
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing to serve or remove; the handlers say so
	}
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	if !st.Mode().IsRegular() {
		return errUnsafeFile
	}
	return nil
}
