package transcode

import "errors"

var (
	// ErrNoMedia is returned when a file has neither an audio nor a video stream.
	ErrNoMedia = errors.New("transcode: no audio or video stream")
	// ErrBadQuality is returned for an unknown output quality name.
	ErrBadQuality = errors.New("transcode: unknown quality (allowed: 360p, 480p, 720p)")
	// ErrBadFPS is returned for an unsupported output frame rate.
	ErrBadFPS = errors.New("transcode: unsupported fps (allowed: 15, 30)")
	// ErrBadFormat is returned for an unknown container name.
	ErrBadFormat = errors.New("transcode: unknown format (allowed: webm, mp4)")
	// ErrClosed is returned by operations on a closed object.
	ErrClosed = errors.New("transcode: closed")
)
