package redis

import (
	"strings"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name                  string
		env                   string
		off                   uint64
		epoch, prev, id, data string
		bad                   bool
	}{
		{name: "OK", env: "12 EpochAbc ........abcdefgh hello world", off: 12, epoch: "EpochAbc", prev: noID, id: "abcdefgh", data: " hello world"},
		{name: "EmptyData", env: "1 e 1234567812345678", off: 1, epoch: "e", prev: "12345678", id: "12345678"},
		{name: "BinaryData", env: "7 e aaaaaaaabbbbbbbb\x00\r\n\xff ", off: 7, epoch: "e", prev: "aaaaaaaa", id: "bbbbbbbb", data: "\x00\r\n\xff "},
		{name: "Empty", env: "", bad: true},
		{name: "NoEpoch", env: "12", bad: true},
		{name: "EmptyEpoch", env: "12  aaaaaaaabbbbbbbb", bad: true},
		{name: "ShortIDs", env: "12 e aaaaaaaabbbb", bad: true},
		{name: "OffsetNotANumber", env: "x e aaaaaaaabbbbbbbb", bad: true},
		{name: "OffsetZero", env: "0 e aaaaaaaabbbbbbbb", bad: true},
		{name: "OffsetNegative", env: "-1 e aaaaaaaabbbbbbbb", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, epoch, prev, id, data, err := decodeMessage(tt.env)
			if tt.bad {
				if err == nil {
					t.Fatalf("decodeMessage(%q) = %d %q %q %q %q; want an error", tt.env, off, epoch, prev, id, data)
				}
				return
			}
			if err != nil || off != tt.off || epoch != tt.epoch || prev != tt.prev || id != tt.id || data != tt.data {
				t.Fatalf("decodeMessage(%q) = %d %q %q %q %q, %v; want %d %q %q %q %q", tt.env, off, epoch, prev, id, data, err, tt.off, tt.epoch, tt.prev, tt.id, tt.data)
			}
		})
	}
}

func TestBroadcastEnvelope(t *testing.T) {
	for _, tt := range []struct{ name, topic, data string }{
		{"OK", "notify", `{"k":1}`},
		{"ColonsAndDigits", "12:34:", "56:"},
		{"EmptyTopic", "", "data"},
		{"EmptyData", "topic", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topic, data, err := decodeBroadcast(encodeBroadcast(tt.topic, []byte(tt.data)))
			if err != nil || topic != tt.topic || data != tt.data {
				t.Fatalf("round trip of (%q, %q): (%q, %q), %v", tt.topic, tt.data, topic, data, err)
			}
		})
	}
	for _, env := range []string{"", "abc", "5:abc", "-1:abc", "x:abc"} {
		if topic, data, err := decodeBroadcast(env); err == nil {
			t.Errorf("decodeBroadcast(%q) = %q, %q; want an error", env, topic, data)
		}
	}
}

func TestStreamOf(t *testing.T) {
	b := &Broker{opts: Options{Prefix: "app"}}
	for _, s := range []string{"news", "", "a}b", "{x}", "x}:msg", "user:alice", "sp ace"} {
		ch := b.keys(s).channel
		if got, ok := b.streamOf(ch); !ok || got != s {
			t.Errorf("streamOf(%q) = %q, %v; want %q", ch, got, ok, s)
		}
	}
	for _, ch := range []string{"app:broadcast", "app:probe:x", "{other:news}:msg", "{app:news}:meta", "{app:", "", "{app}:msg"} {
		if got, ok := b.streamOf(ch); ok {
			t.Errorf("streamOf(%q) = %q; want no stream", ch, got)
		}
	}
}

func TestKeys_OneHashTag(t *testing.T) {
	// Every key and the channel of a stream hash to the same slot: the
	// tag is what lies between the first '{' and the next '}'.
	b := &Broker{opts: Options{Prefix: "halley"}}
	for _, s := range []string{"news", "a}b", "{x}", "}"} {
		k := b.keys(s)
		tags := map[string]bool{}
		for _, key := range []string{k.meta, k.hist, k.channel} {
			open := strings.IndexByte(key, '{')
			end := strings.IndexByte(key[open+1:], '}')
			tags[key[open+1:open+1+end]] = true
		}
		if len(tags) != 1 {
			t.Errorf("stream %q: hash tags %v; want one", s, tags)
		}
	}
}

func TestNewEpoch(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		e := newEpoch()
		if len(e) != idLen || strings.ContainsAny(e, " .") || e == noID {
			t.Fatalf("newEpoch() = %q; want %d characters, no space nor '.'", e, idLen)
		}
		if seen[e] {
			t.Fatalf("newEpoch() gave %q twice in 1000", e)
		}
		seen[e] = true
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add("12 EpochAbc ........abcdefgh hello")
	f.Add("1 e 1234567812345678")
	f.Add("18446744073709551615 e aaaaaaaabbbbbbbb")
	f.Fuzz(func(t *testing.T, env string) {
		off, epoch, prev, id, data, err := decodeMessage(env)
		if err != nil {
			return
		}
		if off == 0 || epoch == "" || strings.Contains(epoch, " ") || len(prev) != idLen || len(id) != idLen || !strings.HasSuffix(env, prev+id+data) {
			t.Fatalf("decodeMessage(%q) = %d %q %q %q %q", env, off, epoch, prev, id, data)
		}
	})
}

func FuzzBroadcastEnvelope(f *testing.F) {
	f.Add("notify", []byte("x"))
	f.Add("12:", []byte(""))
	f.Fuzz(func(t *testing.T, topic string, data []byte) {
		gotTopic, gotData, err := decodeBroadcast(encodeBroadcast(topic, data))
		if err != nil || gotTopic != topic || gotData != string(data) {
			t.Fatalf("round trip of (%q, %q): (%q, %q), %v", topic, data, gotTopic, gotData, err)
		}
		_, _, _ = decodeBroadcast(topic) // never panics on any input
	})
}
