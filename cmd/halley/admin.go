package main

import (
	"embed"
	"net/http"
)

// adminFS holds the admin dashboard: its page and its script app.js,
// built from js/admin (the browser client bundled in) by
// `npm run build:admin` in js/client and checked in; CI checks that it is
// current.
//
//go:embed admin/index.html admin/app.js
var adminFS embed.FS

// mountAdmin serves the admin dashboard at /admin. The page and its
// script hold no data and no secret, so they load without the API key;
// everything they show comes from /api/, behind the API's access rules,
// with the key the operator gives the page.
func mountAdmin(mux *http.ServeMux) {
	page, err := adminFS.ReadFile("admin/index.html")
	if err != nil {
		panic("halley: admin page missing from the binary: " + err.Error())
	}
	js, err := adminFS.ReadFile("admin/app.js")
	if err != nil {
		panic("halley: admin script missing from the binary: " + err.Error())
	}
	mux.Handle("GET /admin", demoFile(page, "text/html; charset=utf-8"))
	mux.Handle("GET /admin/{$}", http.RedirectHandler("/admin", http.StatusMovedPermanently))
	mux.Handle("GET /admin/app.js", demoFile(js, "text/javascript; charset=utf-8"))
}
