package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// The /agent page: plain HTML, CSS and JavaScript in the binary, no build
// step. It holds no data: it signs in with POST /api/session and reads the
// agent's own routes.
//
//go:embed agentpage
var agentPage embed.FS

// pageHeaders keep the page to its own origin: its scripts, styles and
// requests, never framed; a CRM link it opens is not told where from.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
}

// GET /agent and GET /agent/{file}.
func page() http.Handler {
	sub, _ := fs.Sub(agentPage, "agentpage")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		name := r.PathValue("file")
		if name == "" {
			name = "index.html"
		}
		if _, err := fs.Stat(sub, name); err != nil {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if name == "index.html" {
			r2.URL.Path = "/"
		}
		files.ServeHTTP(w, r2)
	})
}
