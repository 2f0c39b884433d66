package transcode

// #include <malloc.h>
import "C"

import "runtime/debug"

// FFmpeg's encoders and decoders allocate from glibc's malloc on many
// threads. glibc gives each thread group an arena of its own and keeps
// freed memory in them, so a server that ran many rooms stays at its peak
// RSS long after they closed. Fewer arenas fragment less, and trimming
// returns what is free.
func init() {
	C.mallopt(C.M_ARENA_MAX, 4)
}

// ReleaseMemory returns freed memory to the operating system, Go's and C's.
// It takes some milliseconds; call it when the server goes idle.
func ReleaseMemory() {
	debug.FreeOSMemory()
	C.malloc_trim(0)
}
