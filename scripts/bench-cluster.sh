#!/usr/bin/env bash
# bench-cluster.sh: the many-nodes benchmarks of docs/server.md, on this
# machine, each case on fresh servers: fan-out (SSE subscribers × messages)
# on 1 node in memory, 1 node on Redis and 3 nodes on Redis (subscribers
# spread over the nodes), and HTTP publishes to 2000 channels in memory and
# on Redis. It starts its own redis-server on a free port (no persistence)
# and stops everything it started, by PID. Prints one line per case.
#
#   scripts/bench-cluster.sh [ROUNDS]    (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/halley" ./cmd/halley
H=$dir/halley
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done

# node PORT ARGS... starts a node and waits until it listens; sets NODE_PID.
node() {
  local p=$1; shift
  "$H" --addr "127.0.0.1:$p" --demo=false "$@" >"$dir/node$p.log" 2>&1 &
  NODE_PID=$!
  pids+=("$NODE_PID")
  until grep -q "listening on" "$dir/node$p.log" 2>/dev/null; do sleep 0.05; done
}
stop() { for p in "$@"; do kill "$p"; wait "$p" 2>/dev/null || true; done; }
report() { # label, then the bench's JSON line on stdin
  python3 -c '
import json, sys
label = sys.argv[1]
d = json.loads(sys.stdin.read())
l = d.get("latency_ms") or {}
print("%-22s deliveries/s %8.0f  CPU/delivery %6.2f us  CPU/publish %7.1f us  publishes/s %6.0f  p50 %6.1f ms  p99 %6.1f ms  lost %s" % (
  label, d.get("deliveries_per_s", 0), d.get("server_cpu_us_per_delivery", 0), d.get("server_cpu_us_per_publish", 0),
  d.get("publishes_per_s", 0), l.get("p50", 0), l.get("p99", 0), d.get("lost")))' "$1"
}
bench() { "$H" bench --json --transport sse "$@" 2>>"$dir/bench.err"; }

for r in $(seq "$rounds"); do
  a=$(port); node "$a"; p=$NODE_PID
  bench --server "http://127.0.0.1:$a" --server-pid "$p" --subscribers 1000 --messages 1000 --channels 1 | report "fanout memory"
  stop "$p"

  a=$(port); node "$a" --redis "redis://127.0.0.1:$rport/0" --redis-prefix "b$r-1"; p=$NODE_PID
  bench --server "http://127.0.0.1:$a" --server-pid "$p" --subscribers 1000 --messages 1000 --channels 1 | report "fanout redis, 1 node"
  stop "$p"

  urls=() ps=()
  for i in 1 2 3; do
    a=$(port); node "$a" --redis "redis://127.0.0.1:$rport/0" --redis-prefix "b$r-3"
    urls+=("http://127.0.0.1:$a"); ps+=("$NODE_PID")
  done
  bench --server "$(IFS=,; echo "${urls[*]}")" --server-pid "${ps[0]}" --server-pid "${ps[1]}" --server-pid "${ps[2]}" \
    --subscribers 3000 --messages 1000 --channels 1 | report "fanout redis, 3 nodes"
  stop "${ps[@]}"

  a=$(port); node "$a"; p=$NODE_PID
  bench --server "http://127.0.0.1:$a" --server-pid "$p" --subscribers 2000 --messages 20000 --channels 2000 | report "publish memory"
  stop "$p"

  a=$(port); node "$a" --redis "redis://127.0.0.1:$rport/0" --redis-prefix "p$r"; p=$NODE_PID
  bench --server "http://127.0.0.1:$a" --server-pid "$p" --subscribers 2000 --messages 20000 --channels 2000 | report "publish redis"
  stop "$p"
done
