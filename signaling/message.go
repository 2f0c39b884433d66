package signaling

import (
	"encoding/json"

	"github.com/pion/webrtc/v4"
)

// Message types sent by the client.
const (
	TypeJoin      = "join"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeSettings  = "settings"
	TypeMute      = "mute"
	TypeLeave     = "leave"
	TypePing      = "ping"
	// TypeShare says the client's video is now a screen share (screen
	// true) or its camera again (screen false).
	TypeShare = "share"
	// TypeView changes the room's layout (LayoutMode) and pinned
	// participant (Pinned).
	TypeView = "view"
)

// Message types sent by the server. TypeOffer, TypeAnswer, TypeCandidate and
// TypeSettings are used in both directions.
const (
	TypeJoined            = "joined"
	TypeParticipantJoined = "participant_joined"
	TypeParticipantLeft   = "participant_left"
	// TypeParticipantUpdated says a participant turned their camera or
	// microphone off or on.
	TypeParticipantUpdated = "participant_updated"
	TypeLayout             = "layout"
	TypeRecording          = "recording"
	TypeError              = "error"
	TypePong               = "pong"
	// TypeSpeakers carries the active speakers, loudest first, whenever
	// who speaks changes.
	TypeSpeakers = "speakers"
	// TypeRedirect says the room lives on another node: join again at URL
	// (with the same token). The server closes the connection after it.
	TypeRedirect = "redirect"
)

// Message is one JSON object on the websocket, in either direction.
type Message struct {
	Type string `json:"type"`
	// join
	Room string `json:"room,omitempty"`
	Name string `json:"name,omitempty"`
	// ReceiveOnly on join: watch and listen without publishing.
	ReceiveOnly bool `json:"receive_only,omitempty"`
	// offer / answer
	SDP string `json:"sdp,omitempty"`
	// candidate (trickle ICE, both directions); nil candidate never sent
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	// settings (client request and server event)
	Quality string `json:"quality,omitempty"`
	FPS     int    `json:"fps,omitempty"`
	// mute: the client turns its camera (Video) and/or microphone (Audio)
	// off (true) or back on (false)
	Video *bool `json:"video,omitempty"`
	Audio *bool `json:"audio,omitempty"`
	// share: the client's video is a screen share (true) or its camera
	Screen *bool `json:"screen,omitempty"`
	// view: the room's layout (auto, grid, speaker, presenter, single)
	// and the participant shown large ("" unpins); also in the joined
	// and view events
	LayoutMode string  `json:"layout_mode,omitempty"`
	Pinned     *string `json:"pinned,omitempty"`
	// redirect: the websocket URL of the node that has the room
	URL string `json:"url,omitempty"`
	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// server events; the payloads are built by the room layer
	ParticipantID string        `json:"participant_id,omitempty"`
	Participant   *Participant  `json:"participant,omitempty"`
	Participants  []Participant `json:"participants,omitempty"`
	Layout        []Tile        `json:"layout,omitempty"`
	// joined: STUN/TURN servers the client should use (Options.ICEServers)
	ICEServers []webrtc.ICEServer `json:"ice_servers,omitempty"`
	Recording  json.RawMessage    `json:"recording,omitempty"`
	// Speakers are the active speakers (speakers event); never omitted
	// from that event, where an empty list means nobody speaks.
	Speakers *[]Speaker `json:"speakers,omitempty"`
}

// Speaker is one active speaker: the smoothed audio level is 0 (silence)
// to 1 (full scale).
type Speaker struct {
	ParticipantID string  `json:"participant_id"`
	Level         float64 `json:"level"`
}

// Participant describes one member of a room in server events.
type Participant struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Video bool   `json:"video"`
	Audio bool   `json:"audio"`
	// Screen is set while the participant's video is a screen share.
	Screen bool `json:"screen,omitempty"`
}

// Tile is one participant's rectangle on the composite picture, in pixels.
type Tile struct {
	ParticipantID string `json:"participant_id"`
	Name          string `json:"name"`
	X             int    `json:"x"`
	Y             int    `json:"y"`
	W             int    `json:"w"`
	H             int    `json:"h"`
	// Main marks the large tile of the speaker, presenter and single
	// layouts.
	Main bool `json:"main,omitempty"`
}
