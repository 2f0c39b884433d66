// Package webhook posts LiveKit-format webhook events: JSON bodies with
// "event", "id", "created_at" and the room, participant or recording
// concerned, signed as LiveKit signs them (an HS256 JWT issued by the API
// key, whose "sha256" claim is the base64 SHA-256 of the body, in the
// Authorization header), so LiveKit's webhook receivers in every SDK
// verify them. Delivery is asynchronous, ordered per URL, retried with
// backoff and never blocks the caller.
package webhook

import (
	"crypto/rand"
	"time"
)

// Event names.
const (
	RoomStarted       = "room_started"
	RoomFinished      = "room_finished"
	ParticipantJoined = "participant_joined"
	ParticipantLeft   = "participant_left"
	RecordingStarted  = "recording_started"
	RecordingFinished = "recording_finished"
	RecordingFailed   = "recording_failed"
)

// Event is one webhook body. Field names follow LiveKit's WebhookEvent
// (its receivers accept the snake_case proto names and ignore fields they
// do not know, such as recording).
type Event struct {
	Event       string       `json:"event"`
	ID          string       `json:"id"`
	CreatedAt   int64        `json:"created_at"` // Unix seconds
	Room        *Room        `json:"room,omitempty"`
	Participant *Participant `json:"participant,omitempty"`
	Recording   *Recording   `json:"recording,omitempty"`
}

// Room describes a room as LiveKit's Room does.
type Room struct {
	SID             string `json:"sid"`
	Name            string `json:"name"`
	CreationTime    int64  `json:"creation_time,omitempty"` // Unix seconds
	NumParticipants uint32 `json:"num_participants"`
	MaxParticipants uint32 `json:"max_participants,omitempty"`
}

// Participant states, LiveKit's ParticipantInfo.State names.
const (
	StateActive       = "ACTIVE"
	StateDisconnected = "DISCONNECTED"
)

// Participant describes a participant as LiveKit's ParticipantInfo does.
type Participant struct {
	SID      string `json:"sid"`
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
	State    string `json:"state,omitempty"`
	JoinedAt int64  `json:"joined_at,omitempty"` // Unix seconds
}

// Recording describes a recording; LiveKit has no such object (its egress
// events differ), so its receivers ignore it and read it from the raw body.
type Recording struct {
	ID          string  `json:"id"`
	Room        string  `json:"room"`
	State       string  `json:"state"` // recording, finished or failed
	File        string  `json:"file,omitempty"`
	Format      string  `json:"format,omitempty"`
	Size        int64   `json:"size,omitempty"`     // bytes
	Duration    float64 `json:"duration,omitempty"` // seconds
	DownloadURL string  `json:"download_url,omitempty"`
	Error       string  `json:"error,omitempty"`
	StartedAt   int64   `json:"started_at,omitempty"` // Unix seconds
	EndedAt     int64   `json:"ended_at,omitempty"`   // Unix seconds
}

// NewEvent returns an event named name with a fresh id and the time now.
func NewEvent(name string) Event {
	return Event{Event: name, ID: "EV_" + rand.Text()[:16], CreatedAt: time.Now().Unix()}
}
