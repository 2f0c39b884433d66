package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testKey    = "APItestkey"
	testSecret = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
)

func testKeys(t *testing.T) *Keys {
	t.Helper()
	k, err := NewKeys(testKey, testSecret, "APIother", "another-secret-that-is-long-enough-0000")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hmacToken builds a token by hand: base64url(header) "." base64url(payload)
// "." base64url(HMAC-SHA256), with LiveKit's claim layout, so the test
// proves the wire format rather than jwt's round trip.
func hmacToken(t *testing.T, header, payload map[string]any, secret string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func livekitPayload(exp time.Time) map[string]any {
	// The layout LiveKit's server SDKs write (AccessToken.toJwt).
	return map[string]any{
		"iss":      testKey,
		"sub":      "alice-1",
		"jti":      "alice-1",
		"name":     "Alice",
		"nbf":      time.Now().Add(-time.Second).Unix(),
		"exp":      exp.Unix(),
		"metadata": "",
		"sha256":   "",
		"kind":     "standard",
		"video": map[string]any{
			"room":       "standup",
			"roomJoin":   true,
			"canPublish": false,
		},
	}
}

func TestHandMadeLiveKitTokenVerifies(t *testing.T) {
	k := testKeys(t)
	tok := hmacToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, livekitPayload(time.Now().Add(time.Hour)), testSecret)
	c, err := k.Verify(tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Identity() != "alice-1" || c.Name != "Alice" || c.Key() != testKey {
		t.Fatalf("claims: %+v", c)
	}
	if err := c.Join("standup"); err != nil {
		t.Fatalf("join standup: %v", err)
	}
	if c.CanPublish() {
		t.Fatal("canPublish false read as true")
	}
	if !c.CanSubscribe() {
		t.Fatal("canSubscribe absent must default to true")
	}
	if err := c.Join("other"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("join other room: %v", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	k := testKeys(t)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	valid := func(mod func(p map[string]any)) map[string]any {
		p := livekitPayload(time.Now().Add(time.Hour))
		if mod != nil {
			mod(p)
		}
		return p
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs256, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(valid(nil))).SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(valid(nil))).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	none := hmacToken(t, map[string]any{"alg": "none", "typ": "JWT"}, valid(nil), "")
	none = none[:strings.LastIndex(none, ".")+1] // unsigned: empty signature

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"missing", "", ErrMissingToken},
		{"blank", "   ", ErrMissingToken},
		{"not a jwt", "hello", ErrMalformed},
		{"garbage parts", "a.b.c", ErrMalformed},
		{"payload not json", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + ".bm90IGpzb24.c2ln", ErrMalformed},
		{"exp not a number", hmacToken(t, hs, valid(func(p map[string]any) { p["exp"] = "tomorrow" }), testSecret), ErrMalformed},
		{"expired", hmacToken(t, hs, valid(func(p map[string]any) { p["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), testSecret), ErrExpired},
		{"missing exp", hmacToken(t, hs, valid(func(p map[string]any) { delete(p, "exp") }), testSecret), ErrMissingExpiry},
		{"nbf in the future", hmacToken(t, hs, valid(func(p map[string]any) { p["nbf"] = time.Now().Add(5 * time.Minute).Unix() }), testSecret), ErrNotYetValid},
		{"wrong secret", hmacToken(t, hs, valid(nil), "a-different-secret-of-enough-length-xxxx"), ErrBadSignature},
		{"tampered payload", func() string {
			tok := hmacToken(t, hs, valid(nil), testSecret)
			parts := strings.Split(tok, ".")
			p := valid(func(p map[string]any) { p["video"].(map[string]any)["roomAdmin"] = true })
			b, _ := json.Marshal(p)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
		}(), ErrBadSignature},
		{"unknown key", hmacToken(t, hs, valid(func(p map[string]any) { p["iss"] = "APInobody" }), testSecret), ErrUnknownKey},
		{"no issuer", hmacToken(t, hs, valid(func(p map[string]any) { delete(p, "iss") }), testSecret), ErrUnknownKey},
		{"alg none", none, ErrWrongAlgorithm},
		{"alg none signed", hmacToken(t, map[string]any{"alg": "none"}, valid(nil), testSecret), ErrWrongAlgorithm},
		{"HS512", hs512, ErrWrongAlgorithm},
		{"RS256", rs256, ErrWrongAlgorithm},
		{"unknown alg", hmacToken(t, map[string]any{"alg": "XX999"}, valid(nil), testSecret), ErrWrongAlgorithm},
		{"lowercase hs256", hmacToken(t, map[string]any{"alg": "hs256"}, valid(nil), testSecret), ErrWrongAlgorithm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := k.Verify(tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if Status(err) != http.StatusUnauthorized {
				t.Fatalf("status %d for %v", Status(err), err)
			}
			if Reason(err) == "" || strings.Contains(Reason(err), testSecret) {
				t.Fatalf("reason %q", Reason(err))
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	k := testKeys(t)
	hs := map[string]any{"alg": "HS256"}
	for name, mod := range map[string]func(map[string]any){
		"expired 30s ago":    func(p map[string]any) { p["exp"] = time.Now().Add(-30 * time.Second).Unix() },
		"nbf in 30s":         func(p map[string]any) { p["nbf"] = time.Now().Add(30 * time.Second).Unix() },
		"no nbf":             func(p map[string]any) { delete(p, "nbf") },
		"second key signing": func(p map[string]any) { p["iss"] = "APIother" },
	} {
		t.Run(name, func(t *testing.T) {
			p := livekitPayload(time.Now().Add(time.Hour))
			mod(p)
			secret := testSecret
			if p["iss"] == "APIother" {
				secret, _ = k.Secret("APIother")
			}
			if _, err := k.Verify(hmacToken(t, hs, p, secret)); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestGrants(t *testing.T) {
	f := false
	claims := func(g *VideoGrant) *Claims {
		return &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "id"}, Video: g}
	}
	join := claims(&VideoGrant{Room: "a", RoomJoin: true})
	admin := claims(&VideoGrant{Room: "a", RoomAdmin: true})
	record := claims(&VideoGrant{Room: "a", RoomRecord: true})
	recordAll := claims(&VideoGrant{RoomRecord: true})
	list := claims(&VideoGrant{RoomList: true})
	nothing := claims(nil)
	receiveOnly := claims(&VideoGrant{Room: "a", RoomJoin: true, CanPublish: &f, CanSubscribe: &f})
	noIdentity := &Claims{Video: &VideoGrant{Room: "a", RoomJoin: true}}

	type check struct {
		name string
		err  error
		want string // "" = allowed, else the missing grant
	}
	checks := []check{
		{"join a", join.Join("a"), ""},
		{"join b", join.Join("b"), "roomJoin"},
		{"join-only admin", join.Admin("a"), "roomAdmin"},
		{"join-only record", join.Record("a"), "roomRecord"},
		{"join-only list", join.List(), "roomList"},
		{"join-only view", join.ViewRoom("a"), "roomAdmin"},
		{"admin a", admin.Admin("a"), ""},
		{"admin b", admin.Admin("b"), "roomAdmin"},
		{"admin records a", admin.Record("a"), ""},
		{"admin records b", admin.Record("b"), "roomRecord"},
		{"admin views a", admin.ViewRoom("a"), ""},
		{"admin joins", admin.Join("a"), "roomJoin"},
		{"record a", record.Record("a"), ""},
		{"record b", record.Record("b"), "roomRecord"},
		{"record admin", record.Admin("a"), "roomAdmin"},
		{"record-all b", recordAll.Record("b"), ""},
		{"record-all admin", recordAll.Admin(""), "roomAdmin"},
		{"list", list.List(), ""},
		{"list views b", list.ViewRoom("b"), ""},
		{"list records", list.Record("b"), "roomRecord"},
		{"nothing joins", nothing.Join(""), "roomJoin"},
		{"nothing admin empty room", nothing.Admin(""), "roomAdmin"},
		{"download other room", record.Download("rec1", "b"), "roomRecord"},
		{"download own room", record.Download("rec1", "a"), ""},
	}
	for _, c := range checks {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("%s: refused: %v", c.name, c.err)
		case c.want != "":
			var fe *ForbiddenError
			if !errors.As(c.err, &fe) || fe.Grant != c.want || Status(c.err) != http.StatusForbidden {
				t.Errorf("%s: got %v, want missing %s", c.name, c.err, c.want)
			} else if !strings.Contains(Reason(c.err), c.want) {
				t.Errorf("%s: reason %q does not name %s", c.name, Reason(c.err), c.want)
			}
		}
	}
	if !join.CanPublish() || !join.CanSubscribe() {
		t.Error("canPublish/canSubscribe must default to true")
	}
	if receiveOnly.CanPublish() || receiveOnly.CanSubscribe() {
		t.Error("explicit false ignored")
	}
	if err := noIdentity.Join("a"); !errors.Is(err, ErrMissingIdentity) {
		t.Errorf("join without sub: %v", err)
	}
	if !list.SeesRecordingsOf("x") || !record.SeesRecordingsOf("a") || record.SeesRecordingsOf("b") || join.SeesRecordingsOf("a") {
		t.Error("SeesRecordingsOf")
	}
}

func TestMintRoundTrip(t *testing.T) {
	k := testKeys(t)
	tok, err := k.Mint(NewClaims("bob", "Bob", VideoGrant{Room: "r", RoomJoin: true, RoomAdmin: true}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The header must be plain HS256/JWT for other implementations.
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var header map[string]string
	if err := json.Unmarshal(h, &header); err != nil || header["alg"] != "HS256" {
		t.Fatalf("header %s", h)
	}
	c, err := k.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key() != testKey || c.Identity() != "bob" || c.Name != "Bob" || c.Admin("r") != nil || c.Join("r") != nil {
		t.Fatalf("claims %+v", c)
	}
	if _, err := (&Keys{}).Mint(Claims{}); err == nil {
		t.Fatal("minted without a key")
	}
}

func TestDownloadToken(t *testing.T) {
	k := testKeys(t)
	tok, err := k.MintDownload("rec-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := k.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Download("rec-1", "room"); err != nil {
		t.Fatalf("own recording: %v", err)
	}
	if err := c.Download("rec-2", "room"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another recording: %v", err)
	}
	for name, err := range map[string]error{"join": c.Join("room"), "admin": c.Admin("room"), "record": c.Record("room"), "list": c.List()} {
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("download token allows %s", name)
		}
	}
	if exp := c.ExpiresAt.Time; exp.Before(time.Now().Add(9*time.Minute)) || exp.After(time.Now().Add(11*time.Minute)) {
		t.Fatalf("expires at %v", exp)
	}
	later := func() time.Time { return time.Now().Add(DownloadValidity + Leeway + time.Second) }
	if _, err := k.verifyAt(tok, later); !errors.Is(err, ErrExpired) {
		t.Fatalf("download link after its validity: %v", err)
	}
}
