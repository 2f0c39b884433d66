package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrUnauthorized matches (errors.Is) every error that means "no usable
// token": HTTP 401.
var ErrUnauthorized = errors.New("auth: unauthorized")

// ErrForbidden matches (errors.Is) every *ForbiddenError: a valid token
// without the grant the action needs, HTTP 403.
var ErrForbidden = errors.New("auth: forbidden")

// The causes of a 401. Each matches ErrUnauthorized too.
var (
	// ErrMissingToken: the request carries no token at all.
	ErrMissingToken = unauthorized("no access token")
	// ErrMalformed: not a JWT, or its header or claims do not decode.
	ErrMalformed = unauthorized("malformed access token")
	// ErrExpired: exp is in the past (beyond the leeway).
	ErrExpired = unauthorized("access token expired")
	// ErrNotYetValid: nbf is in the future (beyond the leeway).
	ErrNotYetValid = unauthorized("access token not valid yet")
	// ErrMissingExpiry: the token has no exp claim.
	ErrMissingExpiry = unauthorized("access token has no expiry (exp)")
	// ErrBadSignature: the signature does not match the key's secret.
	ErrBadSignature = unauthorized("access token signature is invalid")
	// ErrUnknownKey: iss names no configured API key.
	ErrUnknownKey = unauthorized("access token signed with an unknown API key")
	// ErrWrongAlgorithm: anything but HS256, "none" included.
	ErrWrongAlgorithm = unauthorized("access token algorithm must be HS256")
	// ErrMissingIdentity: joining needs the sub claim.
	ErrMissingIdentity = unauthorized("access token has no identity (sub)")
)

// UnauthorizedError is one cause of a 401.
type UnauthorizedError struct{ reason string }

func unauthorized(reason string) *UnauthorizedError { return &UnauthorizedError{reason: reason} }

// Error returns the reason, prefixed with the package name.
func (e *UnauthorizedError) Error() string { return "auth: " + e.reason }

// Reason is the text for clients, without the package prefix.
func (e *UnauthorizedError) Reason() string { return e.reason }

// Is makes every UnauthorizedError match ErrUnauthorized.
func (e *UnauthorizedError) Is(target error) bool { return target == ErrUnauthorized }

// ForbiddenError says which grant a valid token lacks, and for which room.
type ForbiddenError struct {
	// Grant is the missing grant's claim name, such as "roomAdmin".
	Grant string
	// Room is the room the action was for; empty for server-wide actions.
	Room string
}

// Error names the missing grant.
func (e *ForbiddenError) Error() string { return "auth: " + e.Reason() }

// Reason is the text for clients, without the package prefix.
func (e *ForbiddenError) Reason() string {
	if e.Room == "" {
		return fmt.Sprintf("access token lacks the %s grant", e.Grant)
	}
	return fmt.Sprintf("access token lacks the %s grant for room %q", e.Grant, e.Room)
}

// Is makes every ForbiddenError match ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

func forbidden(grant, room string) error { return &ForbiddenError{Grant: grant, Room: room} }

// Status maps an error from this package to its HTTP status: 401, 403, or
// 500 for anything else.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// Reason returns the client-facing text of an error from this package.
func Reason(err error) string {
	var u *UnauthorizedError
	if errors.As(err, &u) {
		return u.Reason()
	}
	var f *ForbiddenError
	if errors.As(err, &f) {
		return f.Reason()
	}
	return err.Error()
}
