package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// WriteError answers an error of this package with its status: 401 with
// a WWW-Authenticate challenge (RFC 6750) or 403, and a JSON body
// {"error": reason}.
func WriteError(w http.ResponseWriter, err error) {
	status := Status(err)
	if status == http.StatusUnauthorized {
		challenge := `Bearer realm="mcu"`
		if !errors.Is(err, ErrMissingToken) {
			challenge += fmt.Sprintf(`, error="invalid_token", error_description=%q`, Reason(err))
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": Reason(err)})
}

// Require wraps h so that it is served only to requests whose bearer token
// verifies against keys and passes check. Failed authentications wait out
// limiter's delay (nil: none).
func Require(keys *Keys, limiter *Limiter, check func(*Claims) error) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := keys.Verify(BearerToken(r))
			if err != nil {
				if limiter != nil {
					limiter.Wait(r.Context(), r.RemoteAddr)
				}
				WriteError(w, err)
				return
			}
			if err := check(claims); err != nil {
				WriteError(w, err)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}
