// Package web embeds Cairn's dashboard and GraphiQL page: the bundle that
// `npm run build` makes from the TypeScript sources in web/src into
// web/dist. The bundle is committed (CI rebuilds it and fails on any
// difference), so `go build` needs no Node.js.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// files is the bundle, rooted at dist/.
var files = func() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return sub
}()

// securityHeaders are set on every page and asset: scripts and connections
// only from this server (no CDN, no inline script), never framed.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "+
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// ServePage writes one of the bundle's HTML pages (index.html,
// graphiql.html); pages are never cached, so a new server's bundle loads.
func ServePage(w http.ResponseWriter, r *http.Request, name string) {
	servePage(w, r, name, http.StatusOK)
}

func servePage(w http.ResponseWriter, r *http.Request, name string, status int) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.Error(w, "page not in the bundle: run npm run build in web/", http.StatusNotFound)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// routes are the dashboard's own paths (web/src/main.tsx): each answers
// index.html, and the page shows the view.
var routes = []string{"/releases/", "/deployments/", "/definitions/", "/workitems/"}

// isRoute reports whether p (cleaned) is a dashboard path.
func isRoute(p string) bool {
	switch p {
	case "/", "/approvals", "/agents", "/audit", "/releases", "/webhook-deliveries", "/profile":
		return true
	}
	for _, r := range routes {
		if strings.HasPrefix(p, r) && len(p) > len(r) {
			return true
		}
	}
	return false
}

// serverPaths are the prefixes of the server's paths that are not the dashboard's (API,
// webhooks, agents, sign-in, metrics, probes): unknown ones keep a plain 404.
var serverPaths = []string{"/graphql", "/webhooks", "/logs", "/agent", "/auth", "/metrics", "/healthz", "/readyz", "/assets"}

func isServerPath(p string) bool {
	for _, sp := range serverPaths {
		if p == sp || strings.HasPrefix(p, sp+"/") {
			return true
		}
	}
	return false
}

// Handler serves the dashboard: files under /assets/ (content-hashed names,
// cached for a year), and index.html for the dashboard's own routes
// (/releases/12), so that a link into the dashboard loads it and it shows the
// view. Any other path is a 404: with the dashboard's "Not found" page for a browser (Accept:
// text/html), plain for programs and under the server's own paths (such as /metrics when
// metrics are off), which never answer a page.
func Handler() http.Handler {
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/assets" || strings.HasPrefix(p, "/assets/") || p == "/favicon.svg" {
			if st, err := fs.Stat(files, strings.TrimPrefix(p, "/")); err != nil || st.IsDir() {
				http.NotFound(w, r)
				return
			}
			securityHeaders(w.Header())
			if strings.HasPrefix(p, "/assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			static.ServeHTTP(w, r)
			return
		}
		if !isRoute(p) {
			// A person who follows a stale link gets the dashboard's "Not found" page
			// (status 404); programs, and the server's own non-page paths, a plain 404.
			if strings.Contains(r.Header.Get("Accept"), "text/html") && !isServerPath(p) {
				servePage(w, r, "index.html", http.StatusNotFound)
				return
			}
			http.NotFound(w, r)
			return
		}
		ServePage(w, r, "index.html")
	})
}
