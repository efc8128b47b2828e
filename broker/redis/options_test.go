package redis

import (
	"slices"
	"testing"
	"time"
)

func TestOptions_clientOption(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		o := Options{}.withDefaults()
		if o.URL != defaultURL || o.Prefix != "halley" || o.Logger == nil || o.DialTimeout != 5*time.Second || o.IOTimeout != 5*time.Second || o.ReadyTimeout != 2*time.Second {
			t.Fatalf("zero Options with defaults: %+v", o)
		}
		co, err := o.clientOption()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(co.InitAddress, []string{"127.0.0.1:6379"}) || co.SelectDB != 0 || co.TLSConfig != nil || !co.DisableCache || co.ConnWriteTimeout != 5*time.Second {
			t.Fatalf("client options: address %v, db %d, TLS %v, cache disabled %v, write timeout %v", co.InitAddress, co.SelectDB, co.TLSConfig != nil, co.DisableCache, co.ConnWriteTimeout)
		}
	})

	t.Run("URLWithPasswordAndTLS", func(t *testing.T) {
		co, err := Options{URL: "rediss://:s3cret@redis.example.com:6380/2"}.withDefaults().clientOption()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(co.InitAddress, []string{"redis.example.com:6380"}) || co.Password != "s3cret" || co.SelectDB != 2 || co.TLSConfig == nil || co.TLSConfig.ServerName != "redis.example.com" {
			t.Fatalf("client options: address %v, password %q, db %d, TLS %+v", co.InitAddress, co.Password, co.SelectDB, co.TLSConfig)
		}
	})

	t.Run("Sentinel", func(t *testing.T) {
		o := Options{URL: "redis://:primarypw@ignored:1/3", Sentinel: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, MasterName: "mymaster", SentinelPassword: "sentpw"}
		co, err := o.withDefaults().clientOption()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(co.InitAddress, o.Sentinel) || co.Sentinel.MasterSet != "mymaster" || co.Sentinel.Password != "sentpw" || co.Password != "primarypw" || co.SelectDB != 3 || co.Sentinel.TopologyRefreshInterval <= 0 {
			t.Fatalf("client options: address %v, sentinel %+v, password %q, db %d", co.InitAddress, co.Sentinel, co.Password, co.SelectDB)
		}
	})

	for _, tt := range []struct {
		name string
		o    Options
	}{
		{"SentinelWithoutMasterName", Options{Sentinel: []string{"127.0.0.1:26379"}}},
		{"MasterNameWithoutSentinel", Options{MasterName: "m"}},
		{"BadScheme", Options{URL: "http://127.0.0.1:6379"}},
		{"BadDatabase", Options{URL: "redis://127.0.0.1:6379/x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.o.withDefaults().clientOption(); err == nil {
				t.Fatalf("%+v accepted; want an error", tt.o)
			}
		})
	}
}
