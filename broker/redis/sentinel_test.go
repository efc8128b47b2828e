package redis_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/redis"
	"github.com/halleyhq/halley/internal/redistest"
)

const masterName = "halley-test"

// sentinelOptions are options that find the primary through sentinel.
func sentinelOptions(t testing.TB, sentinel *redistest.Server) redis.Options {
	return redis.Options{
		Sentinel:     []string{sentinel.Addr()},
		MasterName:   masterName,
		Logger:       quiet(t),
		DialTimeout:  time.Second,
		IOTimeout:    5 * time.Second,
		ReadyTimeout: time.Second,
	}
}

func TestBroker_Sentinel(t *testing.T) {
	t.Run("Discovery", func(t *testing.T) {
		primary := redistest.Start(t, redistest.Options{})
		sentinel := redistest.StartSentinel(t, primary, masterName)
		b, rec := startBroker(t, sentinelOptions(t, sentinel))
		subscribe(t, b, "s")
		epoch := publishM(t, b, "s", 1, 2).Epoch
		checkOffsets(t, rec.WaitMessages(t, "s", 2), 1, 2, epoch)
		if got := primary.MustDo("EXISTS", "{halley:s}:meta"); got != "1" {
			t.Errorf("the stream's keys are not on the primary the sentinel names (EXISTS %s)", got)
		}
		if err := b.Ready(t.Context()); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})

	t.Run("Failover", func(t *testing.T) {
		// The broker follows the primary to the promoted replica, which had
		// the data: same epoch, offsets go on, nothing lost.
		primary := redistest.Start(t, redistest.Options{})
		replica := redistest.Start(t, redistest.Options{ReplicaOf: primary})
		sentinel := redistest.StartSentinel(t, primary, masterName)
		eventually(t, 15*time.Second, "sentinel sees the replica", func() error {
			reply, err := sentinel.Do("SENTINEL", "REPLICAS", masterName)
			if err != nil {
				return err
			}
			if !strings.Contains(reply, "\n"+strconv.Itoa(replica.Port())+"\n") {
				return fmt.Errorf("SENTINEL REPLICAS: %q", reply)
			}
			return nil
		})

		b, rec := startBroker(t, sentinelOptions(t, sentinel))
		subscribe(t, b, "s")
		epoch := publishM(t, b, "s", 1, 3).Epoch
		rec.WaitMessages(t, "s", 3)
		eventually(t, 10*time.Second, "the replica has m1..m3", func() error {
			top, err := replica.Do("HGET", "{halley:s}:meta", "top")
			if err != nil {
				return err
			}
			if top != "3" {
				return fmt.Errorf("top %q on the replica", top)
			}
			return nil
		})

		sentinel.MustDo("SENTINEL", "FAILOVER", masterName)
		eventually(t, 15*time.Second, "replica promoted", func() error {
			// The promotion drops the replica's client connections: an
			// error here is tried again.
			role, err := replica.Do("ROLE")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(role, "master") {
				return fmt.Errorf("ROLE %q", role)
			}
			return nil
		})
		// Until the old primary is told it is a replica, what is
		// published on it is lost: publish until a message lands on the
		// promoted replica.
		var pos broker.Position
		i := 0
		eventually(t, 20*time.Second, "a publication on the promoted replica", func() error {
			i++
			res, err := b.Publish(t.Context(), "s", fmt.Appendf(nil, "after%d", i), broker.PublishOptions{HistorySize: 100})
			if err != nil {
				return err
			}
			pos = res.Position
			meta := "{halley:s}:meta"
			top, err := replica.Do("HGET", meta, "top")
			if err != nil {
				return err
			}
			e, err := replica.Do("HGET", meta, "epoch")
			if err != nil {
				return err
			}
			if top != strconv.FormatUint(pos.Offset, 10) || e != pos.Epoch {
				return fmt.Errorf("published at %+v; the promoted replica has top %s in epoch %q", pos, top, e)
			}
			return nil
		})
		msgs := awaitData(t, rec, "s", fmt.Sprintf("after%d", i))
		checkOffsets(t, msgs[:3], 1, 3, epoch)
		// Whether the publications lost with the old primary made a new
		// epoch (in which the last publication may have another position
		// than Publish told) or not, no offset is delivered twice in one
		// epoch.
		checkNoReuse(t, msgs)
		t.Logf("after the failover: %d publications, last at %+v (epoch before: %s)", i, pos, epoch)
		eventually(t, 10*time.Second, "Ready after the failover", func() error { return b.Ready(t.Context()) })
	})
}
