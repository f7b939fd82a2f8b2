// Package portal serves the tenant-admin web UI (React + TypeScript, built by
// Vite into dist/, which is committed so `go build` needs no Node).
//
// Rebuild after editing portal/src: `cd portal && npm ci && npm run build`.
// `npm run check-dist` fails when dist/ is stale. See docs/portal.md.
package portal

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Assets is the built portal (index.html and assets/).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return sub
}

// Handler serves the portal. Files under assets/ carry content hashes in their
// names and are cached for a year; every other path that is not a file gets
// index.html (the app routes on the client), never cached. Only GET and HEAD.
func Handler() http.Handler {
	return handler(Assets())
}

func handler(files fs.FS) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(files, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					h.Set("Cache-Control", "no-cache")
				}
				fileServer.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
		}
		index, err := fs.ReadFile(files, "index.html")
		if err != nil {
			http.Error(w, "portal not built", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(index) //nolint:errcheck // client went away
		}
	})
}
