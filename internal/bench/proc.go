package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. The kernel
// exports USER_HZ to user space as 100 on every architecture Go runs
// Linux on; reading it would take sysconf(_SC_CLK_TCK), that is cgo, for
// a value that does not vary.
const userHZ = 100

// procCPU returns the CPU time (user + system) process pid has used, from
// /proc/PID/stat, to the 10 ms of a clock tick.
func procCPU(pid int) (time.Duration, error) {
	t, err := procTimes(pid)
	return t.user + t.system, err
}

// cpuTimes are a process's CPU times: in its own code (user) and in the
// kernel on its behalf (system).
type cpuTimes struct{ user, system time.Duration }

// procTimes returns the CPU times of process pid, from /proc/PID/stat.
func procTimes(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	return parseStatCPU(b)
}

// parseStatCPU returns utime and stime of a /proc/PID/stat line. The
// command name, in parentheses, may hold spaces and parentheses: the
// fields are counted from the last ')'.
func parseStatCPU(b []byte) (cpuTimes, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTimes{}, errors.New("bench: /proc stat: no command name")
	}
	// After ')': state (field 3), ppid … utime (field 14), stime (15).
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return cpuTimes{}, errors.New("bench: /proc stat: too few fields")
	}
	var ticks [2]uint64
	for k, s := range f[11:13] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("bench: /proc stat: %w", err)
		}
		ticks[k] = n
	}
	return cpuTimes{
		user:   time.Duration(ticks[0]) * time.Second / userHZ,
		system: time.Duration(ticks[1]) * time.Second / userHZ,
	}, nil
}

// procStatusKB returns a "kB" field of /proc/PID/status, such as VmRSS
// (resident memory) or VmHWM (its peak).
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, field)
}

func parseStatusKB(b []byte, field string) (int64, error) {
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok || string(name) != field {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: /proc status: %s: %q", field, bytes.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc status: %s: %w", field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("bench: /proc status: no %s", field)
}

// machineTicks returns, from the "cpu" line of /proc/stat, the clock
// ticks of all processors taken together: steal (the time the
// hypervisor gave a processor to another guest while this one had work)
// and the total of every state. Both only grow; their differences
// between two readings give the share of the machine's time stolen
// meanwhile.
func machineTicks() (steal, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseMachineTicks(b)
}

// parseMachineTicks parses the aggregate "cpu" line of a /proc/stat:
// user nice system idle iowait irq softirq steal guest guest_nice, of
// which the kernel counts guest time in user too (so the total leaves
// the two guest fields out). Kernels older than 2.6.11 have no steal
// field: it then counts as 0.
func parseMachineTicks(b []byte) (steal, total uint64, err error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, errors.New("bench: /proc/stat: no cpu line")
	}
	f = f[1:min(len(f), 9)] // through steal
	for i, s := range f {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		total += n
		if i == 7 {
			steal = n
		}
	}
	return steal, total, nil
}
