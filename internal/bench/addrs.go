package bench

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"time"
)

// perAddress is how many subscribers share one local address. A server
// limits what one client address may do (halley's defaults: 256
// connections, sessions at 10 a second in bursts of 100), as it should
// against the internet; the load tool's subscribers stand for many
// clients, so they come from many loopback addresses, each within those
// limits.
const perAddress = 50

// spread gives subscribers HTTP clients bound to distinct loopback
// addresses (127.1.x.y) when the servers are on IPv4 loopback addresses
// on Linux, where all of 127.0.0.0/8 is the loopback. Elsewhere every
// subscriber uses the default client. Each server applies its limits
// apart, so the subscribers of several servers share the addresses.
type spread struct {
	transports []*http.Transport
	dialers    []*net.Dialer
}

func newSpread(servers []string, subscribers int) *spread {
	sp := &spread{}
	if runtime.GOOS != "linux" {
		return sp
	}
	for _, server := range servers {
		u, err := url.Parse(server)
		if err != nil {
			return sp
		}
		host := u.Hostname()
		if host == "localhost" {
			host = "127.0.0.1"
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() || !a.IsLoopback() {
			return sp
		}
	}
	n := (subscribers + perAddress - 1) / perAddress
	for g := range n {
		local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(g/250), byte(g%250+1))}
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}
		sp.dialers = append(sp.dialers, d)
		sp.transports = append(sp.transports, &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: perAddress,
			IdleConnTimeout:     90 * time.Second,
		})
	}
	return sp
}

// client returns the HTTP client of subscriber i, or nil for the default.
func (sp *spread) client(i int) *http.Client {
	if len(sp.transports) == 0 {
		return nil
	}
	return &http.Client{Transport: sp.transports[(i/perAddress)%len(sp.transports)]}
}

// dialer returns the dialer of subscriber i.
func (sp *spread) dialer(i int) *net.Dialer {
	if len(sp.dialers) == 0 {
		return &net.Dialer{Timeout: 10 * time.Second}
	}
	return sp.dialers[(i/perAddress)%len(sp.dialers)]
}

// close closes the idle connections of every transport.
func (sp *spread) close() {
	for _, t := range sp.transports {
		t.CloseIdleConnections()
	}
}
