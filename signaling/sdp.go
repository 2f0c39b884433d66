package signaling

import "strings"

// ICEUfrag returns the first ICE username fragment of an SDP ("" for
// none). An offer whose fragment differs from the previous one restarts
// ICE.
func ICEUfrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\n") {
		if u, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}
