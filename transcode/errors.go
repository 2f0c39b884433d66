package transcode

import (
	"errors"
	"syscall"

	"github.com/asticode/go-astiav"
)

var (
	// ErrNoMedia is returned when a file has neither an audio nor a video stream.
	ErrNoMedia = errors.New("transcode: no audio or video stream")
	// ErrClosed is returned by operations on a closed object.
	ErrClosed = errors.New("transcode: closed")
)

// IsDiskFull reports whether err comes from a write that found no space
// left on the device, from FFmpeg or from the OS.
func IsDiskFull(err error) bool {
	var ae astiav.Error
	if errors.As(err, &ae) && int(ae) == -int(syscall.ENOSPC) {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}
