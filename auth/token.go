package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Leeway is the clock skew tolerated on exp and nbf.
const Leeway = 60 * time.Second

// DownloadValidity is how long a download link minted by the server works.
const DownloadValidity = 10 * time.Minute

// VideoGrant is LiveKit's "video" claim, with the grants this server uses.
type VideoGrant struct {
	// Room the grants apply to.
	Room string `json:"room,omitempty"`
	// RoomJoin allows joining Room over /ws.
	RoomJoin bool `json:"roomJoin,omitempty"`
	// RoomAdmin allows changing Room's output, muting or removing others,
	// and its recordings.
	RoomAdmin bool `json:"roomAdmin,omitempty"`
	// RoomRecord allows starting, stopping, listing, downloading and
	// deleting recordings of Room, or of every room when Room is empty.
	RoomRecord bool `json:"roomRecord,omitempty"`
	// RoomList allows listing every room and every recording.
	RoomList bool `json:"roomList,omitempty"`
	// CanPublish (default true) lets a participant send media; false
	// joins receive-only.
	CanPublish *bool `json:"canPublish,omitempty"`
	// CanSubscribe (default true) lets a participant receive the room.
	CanSubscribe *bool `json:"canSubscribe,omitempty"`
}

// Claims is the body of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// Name is the participant's display name.
	Name string `json:"name,omitempty"`
	// Video holds the grants; nil grants nothing.
	Video *VideoGrant `json:"video,omitempty"`
	// Recording, set only on download links minted by the server, allows
	// downloading that one recording.
	Recording string `json:"mcu_recording,omitempty"`
}

// Identity is the sub claim.
func (c *Claims) Identity() string { return c.Subject }

// Key is the API key that signed the token (iss).
func (c *Claims) Key() string { return c.Issuer }

func (c *Claims) grant() VideoGrant {
	if c == nil || c.Video == nil {
		return VideoGrant{}
	}
	return *c.Video
}

// CanPublish reports whether the participant may send media (default true).
func (c *Claims) CanPublish() bool { g := c.grant(); return g.CanPublish == nil || *g.CanPublish }

// CanSubscribe reports whether the participant may receive media (default
// true).
func (c *Claims) CanSubscribe() bool { g := c.grant(); return g.CanSubscribe == nil || *g.CanSubscribe }

// Join checks the right to join room; it also needs an identity.
func (c *Claims) Join(room string) error {
	g := c.grant()
	if !g.RoomJoin || g.Room != room {
		return forbidden("roomJoin", room)
	}
	if c.Subject == "" {
		return ErrMissingIdentity
	}
	return nil
}

// Admin checks the right to change room's output and moderate it.
func (c *Claims) Admin(room string) error {
	if g := c.grant(); !g.RoomAdmin || g.Room != room {
		return forbidden("roomAdmin", room)
	}
	return nil
}

// Record checks the right to manage room's recordings: roomRecord for room
// (or for every room, when the grant names none), or roomAdmin for room.
func (c *Claims) Record(room string) error {
	g := c.grant()
	if g.RoomRecord && (g.Room == "" || g.Room == room) {
		return nil
	}
	if g.RoomAdmin && g.Room == room {
		return nil
	}
	return forbidden("roomRecord", room)
}

// List checks the right to list every room.
func (c *Claims) List() error {
	if !c.grant().RoomList {
		return forbidden("roomList", "")
	}
	return nil
}

// ViewRoom checks the right to see one room's details: roomAdmin for it, or
// roomList.
func (c *Claims) ViewRoom(room string) error {
	if c.Admin(room) == nil || c.List() == nil {
		return nil
	}
	return forbidden("roomAdmin", room)
}

// SeesRecordingsOf reports whether room's recordings belong in this
// token's recording list: roomList sees all, Record the rest.
func (c *Claims) SeesRecordingsOf(room string) bool {
	return c.List() == nil || c.Record(room) == nil
}

// Download checks the right to download recording id of room: a download
// link minted for that recording, or the right to manage room's
// recordings.
func (c *Claims) Download(id, room string) error {
	if c.Recording != "" && c.Recording == id {
		return nil
	}
	return c.Record(room)
}

// NewClaims makes claims for identity with grant, valid from now for
// validFor.
func NewClaims(identity, name string, grant VideoGrant, validFor time.Duration) Claims {
	now := time.Now()
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(validFor)),
		},
		Name:  name,
		Video: &grant,
	}
}

// Sign signs c with key and secret (HS256), setting iss to key.
func Sign(key, secret string, c Claims) (string, error) {
	c.Issuer = key
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return s, nil
}

// Mint signs c with the set's first key.
func (k *Keys) Mint(c Claims) (string, error) {
	key, secret, ok := k.First()
	if !ok {
		return "", errors.New("auth: no API key to sign with")
	}
	return Sign(key, secret, c)
}

// MintDownload makes a download link token for recording id, valid for
// DownloadValidity, that allows nothing else.
func (k *Keys) MintDownload(id string) (string, error) {
	now := time.Now()
	return k.Mint(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "download",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(DownloadValidity)),
		},
		Recording: id,
	})
}

// Verify checks a token's algorithm (HS256 only), signature, exp (required)
// and nbf with Leeway, and returns its claims. Errors match
// ErrUnauthorized and one of the Err* causes.
func (k *Keys) Verify(token string) (*Claims, error) {
	return k.verifyAt(token, time.Now)
}

func (k *Keys) verifyAt(token string, now func() time.Time) (*Claims, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, ErrMissingToken
	}
	var unknownKey, wrongAlg bool
	p := jwt.NewParser(jwt.WithLeeway(Leeway), jwt.WithExpirationRequired(), jwt.WithTimeFunc(now))
	claims := &Claims{}
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// Checked here, not with jwt.WithValidMethods, to tell a wrong
		// algorithm from a bad signature.
		if t.Method == nil || t.Method.Alg() != jwt.SigningMethodHS256.Alg() {
			wrongAlg = true
			return nil, ErrWrongAlgorithm
		}
		secret, ok := k.Secret(claims.Issuer)
		if !ok {
			unknownKey = true
			return nil, ErrUnknownKey
		}
		return []byte(secret), nil
	})
	switch {
	case err == nil:
		return claims, nil
	case wrongAlg:
		return nil, ErrWrongAlgorithm
	case unknownKey:
		return nil, ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An algorithm jwt does not know at all.
		return nil, ErrWrongAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, ErrBadSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, ErrMissingExpiry
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, ErrNotYetValid
	default:
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}
