// Package mixer holds what turns many participants into one: the grid
// layout maths, the video compositor that draws every input into one canvas
// on its own clock, and the audio mixer that sums everyone (and everyone but
// one) with a limiter. FFmpeg work is delegated to package transcode.
package mixer
