#!/usr/bin/env bash
# instructions.sh: the user-space instructions a Halley server executes per
# HTTP publish (the publish-2k case's work: the request read and parsed,
# the message stored, its SSE event encoded and written, the answer), as
# valgrind's callgrind counts them. Unlike CPU time, the count is the same
# from run to run within ~1%, whatever else the machine is doing, so it
# shows a change of a few percent in the server's own code that the CPU
# figures of halley bench, which vary 2-3x with the host, cannot. It does
# not count the kernel's work, nor the time lost to cache misses (most of
# the server's user time in publish-2k: perf shows its own code at ~14%
# of its CPU, the kernel at ~75%).
#
#   scripts/instructions.sh [PUBLISHES] [TOP]
#
# Two runs of a fresh server under callgrind, with 200 raw SSE subscribers
# on 200 channels: 1000 publishes, then 1000+PUBLISHES (default 4000).
# The server runs without its garbage collector (GOGC=off) unless GOGC
# is set: a few thousand publishes fall in zero, one or two of its
# cycles, at random, which moves the count by 10% (allocating is still
# counted, and what is allocated shows in the functions).
# Prints the difference per publish, then the TOP (default 25) functions
# by their own instructions per publish. Needs valgrind (Debian's
# package: apt-get install valgrind). Ends every process it started, by
# PID.
set -euo pipefail
cd "$(dirname "$0")/.."
more=${1:-4000}
top=${2:-25}
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
dir=$(mktemp -d)
pid=""
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/halley" ./cmd/halley
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# count N OUT: a fresh server under callgrind, N publishes; its counts in OUT.
count() {
  local p; p=$(port)
  # Asynchronous preemption's signals would be counted too, at random.
  GOGC=${GOGC:-off} GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$2" \
    "$dir/halley" --addr "127.0.0.1:$p" --demo=false --session-rate -1 >"$dir/log" 2>&1 &
  pid=$!
  until curl -s -o /dev/null "http://127.0.0.1:$p/healthz"; do sleep 0.2; done
  "$dir/halley" bench --raw --subscribers 200 --channels 200 --messages "$1" \
    --server "http://127.0.0.1:$p" >"$dir/bench.log" 2>&1 || { tail -3 "$dir/bench.log" >&2; exit 1; }
  # Dumped while it runs: callgrind fails an assertion on a Go
  # program's exit, before writing its counts.
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  pid=""
}
count 1000 "$dir/a.out"
count $((1000 + more)) "$dir/b.out"
# The dump is the file's part 1 (the file itself stays empty).
python3 - "$dir/a.out.1" "$dir/b.out.1" "$more" "$top" "${GOGC:-off}" <<'EOF'
import re, subprocess, sys
def counts(f):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", f],
                         capture_output=True, text=True, check=True).stdout
    total, fns = 0, {}
    for line in out.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S.*?)(?: \[.*\])?$', line)
        if not m:
            continue
        n = int(m.group(1).replace(',', ''))
        if 'PROGRAM TOTALS' in line:
            total = n
        else:
            fn = m.group(2).split(':', 1)[-1]
            fns[fn] = fns.get(fn, 0) + n
    return total, fns
(ta, a), (tb, b), n, top = counts(sys.argv[1]), counts(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("instructions per publish: %.0f (callgrind, %d publishes, 200 raw SSE subscribers on 200 channels, GOGC=%s)" % ((tb - ta) / n, n, sys.argv[5]))
rows = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
for v, k in reversed(rows[len(rows) - top:]):
    print("%8.0f  %s" % (v, k[:140]))
EOF
