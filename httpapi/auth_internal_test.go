package httpapi

import "testing"

// TestIsLoopback checks the peers and Hosts a keyless API answers, the
// usual spellings (taken without parsing) and the others alike.
func TestIsLoopback(t *testing.T) {
	peers := map[string]bool{
		"127.0.0.1:51234":       true,
		"127.0.0.1:1":           true,
		"127.1.2.3:80":          true,
		"[::1]:80":              true,
		"[::ffff:127.0.0.1]:80": true,
		"127.0.0.1":             true, // no port: the address alone
		"10.0.0.1:80":           false,
		"127.0.0.10.example:80": false,
		"127.0.0.1:1:2":         false,
		"127.0.0.1.evil:80":     false,
		"":                      false,
	}
	for remote, want := range peers {
		if got := isLoopback(remote); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", remote, got, want)
		}
	}
	hosts := map[string]bool{
		"127.0.0.1:8080":      true,
		"localhost:8080":      true,
		"LocalHost":           true,
		"app.localhost:1":     true,
		"[::1]:8080":          true,
		"127.0.0.1":           true,
		"localhost:":          true, // an empty port: net.SplitHostPort's reading
		"localhost.evil:8080": false,
		"127.0.0.1.nip.io:80": false,
		"localhost:80:80":     false,
		"127.0.0.1:123456":    true, // the host is what counts
		"example.com:8080":    false,
	}
	for host, want := range hosts {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
