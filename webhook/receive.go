package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

// Receive reads and verifies a webhook request the way LiveKit's receivers
// do, for Go applications and tests: the Authorization header is a JWT
// whose issuer names the API key; it must verify with that key's secret
// (HS256 only, valid now), and its sha256 claim must equal the base64
// (standard encoding) SHA-256 of the body. secret returns the secret of a
// key, "" for an unknown one. It returns the event and the raw body.
func Receive(r *http.Request, secret func(apiKey string) string) (*Event, []byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: reading body: %w", err)
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, body, errors.New("webhook: no Authorization header")
	}
	var claims Claims
	_, err = jwt.ParseWithClaims(auth, &claims, func(tok *jwt.Token) (any, error) {
		iss, err := tok.Claims.GetIssuer()
		if err != nil {
			return nil, err
		}
		s := secret(iss)
		if s == "" {
			return nil, fmt.Errorf("unknown API key %q", iss)
		}
		return []byte(s), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return nil, body, fmt.Errorf("webhook: token: %w", err)
	}
	sum := sha256.Sum256(body)
	if claims.SHA256 != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, body, errors.New("webhook: body does not match the signed checksum")
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, body, fmt.Errorf("webhook: body: %w", err)
	}
	if e.Event == "" || e.ID == "" || e.CreatedAt == 0 {
		return nil, body, errors.New("webhook: body lacks event, id or created_at")
	}
	return &e, body, nil
}
