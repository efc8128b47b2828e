package halley

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originPatterns are Config.AllowedOrigins, checked at New.
type originPatterns []string

// checkOrigins validates the patterns of Config.AllowedOrigins.
func checkOrigins(patterns []string) (originPatterns, error) {
	out := make(originPatterns, 0, len(patterns))
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("%w: allowed origin %q: %v", ErrInvalidOptions, p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// allows reports whether a page of origin u may use the transports.
func (ps originPatterns) allows(u *url.URL) bool {
	host := strings.ToLower(u.Host)
	full := strings.ToLower(u.Scheme) + "://" + host
	for _, p := range ps {
		target := host
		if strings.Contains(p, "://") {
			target = full
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// originCheck is what the Origin of a request says: no Origin (not a
// browser, or a same-origin GET), the server's own host, an allowed other
// origin (which gets CORS headers), or a refused one.
type originCheck uint8

const (
	originNone originCheck = iota
	originSame
	originAllowed
	originRefused
)

// checkOrigin classifies the request's Origin header.
func (h *Hub) checkOrigin(r *http.Request) originCheck {
	o := r.Header.Get("Origin")
	if o == "" {
		return originNone
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		// "null" (sandboxed frames, file: pages) and garbage.
		return originRefused
	}
	if strings.EqualFold(u.Host, r.Host) {
		return originSame
	}
	if h.origins.allows(u) {
		return originAllowed
	}
	return originRefused
}

// CORS headers of the transports.
const (
	corsAllowHeaders  = "Authorization, Content-Type, Halley-Session, Last-Event-ID"
	corsExposeHeaders = "Halley-Session"
	corsMaxAge        = "600"
)

// cors answers the cross-origin side of a transport request: it refuses a
// foreign origin (403 forbidden_origin), answers a preflight, and gives an
// allowed origin's requests the headers that let the page read the answer.
// It reports whether the request goes on.
func (h *Hub) cors(w http.ResponseWriter, r *http.Request, method string) bool {
	oc := h.checkOrigin(r)
	if oc == originRefused {
		h.jsonError(w, http.StatusForbidden, "forbidden_origin", "pages of this origin may not use this server")
		return false
	}
	hd := w.Header()
	if oc == originAllowed {
		hd.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		hd.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if oc == originAllowed {
			hd.Set("Access-Control-Allow-Methods", method)
			hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			hd.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}
