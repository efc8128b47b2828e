package bench

import (
	"os"
	"time"
)

// The readings a run takes of the servers and of itself: CPU times (from
// /proc, proc.go), the machine's stolen time, resident memory.

// cpu is a CPU-time reading of the servers (when their pids are known)
// and of the bench.
type cpu struct {
	servers  []time.Duration // per server
	user     []time.Duration // per server: the user part of servers
	bench    time.Duration
	serverOK bool // every server's was read
	benchOK  bool
	// The machine's ticks (/proc/stat): stolen, and in all.
	steal, ticks uint64
	machineOK    bool
}

func (r *runner) readCPU() cpu {
	var c cpu
	var err error
	if len(r.cfg.ServerPIDs) > 0 {
		c.serverOK = true
		for _, pid := range r.cfg.ServerPIDs {
			t, err := procTimes(pid)
			c.serverOK = c.serverOK && err == nil
			c.servers = append(c.servers, t.user+t.system)
			c.user = append(c.user, t.user)
		}
	}
	c.bench, err = procCPU(os.Getpid())
	c.benchOK = err == nil
	c.readMachine()
	return c
}

// readMachine reads the machine's ticks into c.
func (c *cpu) readMachine() {
	var err error
	c.steal, c.ticks, err = machineTicks()
	c.machineOK = err == nil
}

// stealPct returns the share of the machine's time, in percent, that
// its host stole from c0 to c1 (0 when no tick passed), or nil when
// unknown.
func stealPct(c0, c1 cpu) *float64 {
	if !c0.machineOK || !c1.machineOK || c1.ticks < c0.ticks || c1.steal < c0.steal {
		return nil
	}
	if c1.ticks == c0.ticks {
		return ptr(0.0)
	}
	return ptr(round(100*float64(c1.steal-c0.steal)/float64(c1.ticks-c0.ticks), 1))
}

// serverSince returns the CPU time of server k (-1: all of them) from c0
// to c1.
func serverSince(c0, c1 cpu, k int) time.Duration { return since(c0.servers, c1.servers, k) }

// userSince is serverSince's user part.
func userSince(c0, c1 cpu, k int) time.Duration { return since(c0.user, c1.user, k) }

// since returns t1[k] - t0[k], or the sum over all k when k is -1.
func since(t0, t1 []time.Duration, k int) time.Duration {
	if k >= 0 {
		return t1[k] - t0[k]
	}
	var d time.Duration
	for i := range t1 {
		d += t1[i] - t0[i]
	}
	return d
}

// readRSS returns each server's resident memory, nil when unknown.
func (r *runner) readRSS() []int64 {
	if len(r.cfg.ServerPIDs) == 0 {
		return nil
	}
	var kbs []int64
	for _, pid := range r.cfg.ServerPIDs {
		kb, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			return nil
		}
		kbs = append(kbs, kb)
	}
	return kbs
}

// sumKB returns the sum of kbs, nil for none.
func sumKB(kbs []int64) *int64 {
	if kbs == nil {
		return nil
	}
	var n int64
	for _, kb := range kbs {
		n += kb
	}
	return &n
}
