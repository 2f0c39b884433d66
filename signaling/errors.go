package signaling

import "strings"

// Error codes sent in "error" messages.
const (
	CodeBadMessage    = "bad_message"    // unparsable JSON or a missing field
	CodeUnknownType   = "unknown_type"   // the type is not part of the protocol
	CodeNotJoined     = "not_joined"     // the message needs a joined session
	CodeAlreadyJoined = "already_joined" // a second join on one connection
	CodeBadRequest    = "bad_request"    // a field has an invalid value
	CodeRoomFull      = "room_full"      // the room admits nobody more
	CodeServerFull    = "server_full"    // the server admits no new room
	CodeTimeout       = "timeout"        // no offer in time after join
	CodeTooLarge      = "too_large"      // the message exceeds Options.MaxMessageBytes
	CodeRateLimited   = "rate_limited"   // more messages than Options.MaxMessagesPerSecond
	CodeInternal      = "internal"       // any other failure
	// CodeUnauthorized: the access token is missing, malformed, expired or
	// not signed with a known key. The connection is closed after it.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: the token lacks the grant the message needs (the
	// message names it). The connection is closed after it.
	CodeForbidden    = "forbidden"
	CodeShuttingDown = "shutting_down" // the server drains before exit; join again to reach another node
)

// Error is an error with a protocol code. A Backend or Session returns it,
// wrapped or not, to choose the code sent to the client; any other error is
// reported as CodeInternal.
type Error struct {
	Code    string
	Message string
}

// Error returns the code and the message.
func (e *Error) Error() string {
	return "signaling: " + e.Code + ": " + e.Message
}

// Redirect is returned by a Backend when the room lives on another node of
// a cluster: a websocket client gets a "redirect" message with that node's
// /ws URL (and should join there with the same token), an HTTP client a
// 307 to the same path on that node.
type Redirect struct {
	// URL is the owning node's base URL, e.g. https://node2.example.org.
	URL string
}

// Error names the node.
func (e *Redirect) Error() string { return "signaling: the room is on " + e.URL }

// WebsocketURL is the owning node's /ws address (ws:// or wss://).
func (e *Redirect) WebsocketURL() string {
	u := strings.TrimSuffix(e.URL, "/")
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u + "/ws"
}
