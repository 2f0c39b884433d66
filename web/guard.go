package web

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// requestGuard refuses requests a browser could be tricked into sending:
//   - a Host that is not this server's (DNS rebinding: a page on an
//     attacker's name that resolves to this machine). Loopback names and
//     IP literals are always this server's, plus the configured hosts;
//   - a state-changing API request from a page of another origin (the
//     Origin header, sent by browsers on every cross-site POST, PUT,
//     DELETE and PATCH), unless that origin is allowed;
//   - an API request whose body is not declared as JSON: a cross-site form
//     can post text/plain without asking, never application/json.
type requestGuard struct {
	hosts  map[string]bool // lower case, without port; "*" allows any
	origin func(*http.Request) bool
}

func newRequestGuard(hosts []string, origin func(*http.Request) bool) *requestGuard {
	g := &requestGuard{hosts: map[string]bool{}, origin: origin}
	for _, h := range hosts {
		g.hosts[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return g
}

func (g *requestGuard) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if g.hosts["*"] || g.hosts[host] || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return net.ParseIP(host) != nil
}

func (g *requestGuard) handle(c *gin.Context) {
	r := c.Request
	if !g.hostAllowed(r.Host) {
		apiError(c, http.StatusMisdirectedRequest, "host "+r.Host+" is not served here (add it to the allowed hosts)")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		c.Next()
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !g.origin(r) {
			apiError(c, http.StatusForbidden, "requests from "+r.Header.Get("Origin")+" are not allowed (add it to the allowed origins)")
			return
		}
		if r.ContentLength != 0 {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				apiError(c, http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
				return
			}
		}
	}
	c.Next()
}
