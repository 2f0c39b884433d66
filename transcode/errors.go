package transcode

import "errors"

var (
	// ErrNoMedia is returned when a file has neither an audio nor a video stream.
	ErrNoMedia = errors.New("transcode: no audio or video stream")
	// ErrClosed is returned by operations on a closed object.
	ErrClosed = errors.New("transcode: closed")
)
