package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequire(t *testing.T) {
	k := testKeys(t)
	h := Require(k, nil, (*Claims).List)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	list, _ := k.Mint(NewClaims("ops", "", VideoGrant{RoomList: true}, time.Hour))
	join, _ := k.Mint(NewClaims("p", "", VideoGrant{Room: "r", RoomJoin: true}, time.Hour))
	for _, tc := range []struct {
		header string
		status int
		body   string
	}{
		{"", 401, "no access token"},
		{"Bearer garbage", 401, "malformed"},
		{"Bearer " + join, 403, "roomList"},
		{"bearer " + list, 200, "ok"},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%q: %d %q", tc.header, rec.Code, rec.Body.String())
		}
		if tc.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%q: no Bearer challenge", tc.header)
		}
	}
}
