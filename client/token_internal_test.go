package client

import (
	"net/http"
	"testing"
	"time"
)

func TestRefreshAt(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		exp  int64
		want time.Time
	}{
		{"an hour: after 80%", 1000 + 3600, now.Add(48 * time.Minute)},
		{"10 s: after 80%, 2 s before", 1010, now.Add(8 * time.Second)},
		{"3 s: 1 s before the end", 1003, now.Add(2 * time.Second)},
		{"under 1 s: at once", 1000, now},
		{"over: at once", 990, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refreshAt(now, tc.exp); !got.Equal(tc.want) {
				t.Errorf("refreshAt(now, now+%ds) = now+%v, want now+%v", tc.exp-1000, got.Sub(now), tc.want.Sub(now))
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		min     time.Duration
		max     time.Duration
	}{
		{"none", "", 0, 0},
		{"seconds", "3", 3 * time.Second, 3 * time.Second},
		{"zero", "0", 0, 0},
		{"bounded", "99999999999999", maxRetryAfter, maxRetryAfter},
		{"garbage", "soon", 0, 0},
		{"negative", "-5", 0, 0},
		{"past date", "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0},
		{"date", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), 58 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v); got < tc.min || got > tc.max {
				t.Errorf("parseRetryAfter(%q) = %v, want [%v, %v]", tc.v, got, tc.min, tc.max)
			}
		})
	}
}
