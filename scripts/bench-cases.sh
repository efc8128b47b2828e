#!/usr/bin/env bash
# bench-cases.sh: the standard cases of halley bench (--cases), each on a
# fresh server, for this tree and, when given, a baseline commit built
# beside it, interleaved case by case so that both see the same machine
# and the same load tool (this tree's halley bench);
# then the floor (halley bench --floor) and the memory of idle
# connections per transport. Prints one line per run; ends every server
# it started, by PID.
#
#   scripts/bench-cases.sh [BASELINE_COMMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$base" ]; then git worktree remove --force "$dir/base" >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/new" ./cmd/halley
builds=(new)
if [ -n "$base" ]; then
  git worktree add --detach "$dir/base" "$base" >/dev/null 2>&1
  (cd "$dir/base" && go build -o "$dir/base.bin" ./cmd/halley)
  mv "$dir/base.bin" "$dir/base-bin"
  builds=(base new)
fi
bin() { if [ "$1" = base ]; then echo "$dir/base-bin"; else echo "$dir/new"; fi; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# server BIN: starts a fresh server and waits until it listens; sets URL, PID.
server() {
  local p; p=$(port)
  "$1" --addr "127.0.0.1:$p" --demo=false --session-rate -1 >"$dir/server.log" 2>&1 &
  PID=$!; pids+=("$PID"); URL="http://127.0.0.1:$p"
  until grep -q "listening on" "$dir/server.log" 2>/dev/null; do sleep 0.05; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
report() { # label build, then the bench's JSON line on stdin
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
l = d.get("latency_ms") or {}
print("%-14s %-4s subs %6d  deliveries/s %8.0f  µs/delivery %6.2f  µs/publish %7.1f  publishes/s %6.0f  p50 %6.1f ms  p99 %6.1f ms  steal %4.1f%%  lost/dup/ooo %s/%s/%s" % (
  sys.argv[1], sys.argv[2], d.get("subscribers", 0), d.get("deliveries_per_s", 0), d.get("server_cpu_us_per_delivery", 0),
  d.get("server_cpu_us_per_publish", 0), d.get("publishes_per_s", 0), l.get("p50", 0), l.get("p99", 0),
  d.get("host_steal_pct") or 0, d.get("lost"), d.get("duplicated"), d.get("out_of_order")))' "$1" "$2"
}

for c in fanout-1k paced-1k fanout-10k fanout-19.5k publish-2k light; do
  for b in "${builds[@]}"; do
    server "$(bin "$b")"
    "$dir/new" bench --json --cases --only "$c" --server "$URL" --server-pid "$PID" 2>/dev/null | report "$c" "$b"
    stop
  done
done
for b in "${builds[@]}"; do
  server "$(bin "$b")"
  "$dir/new" bench --json --transport ws --subscribers 1000 --messages 1000 --server "$URL" --server-pid "$PID" 2>/dev/null | report ws-fanout-1k "$b"
  stop
done
server "$dir/new"
"$dir/new" bench --json --cases --only stream-2k --server "$URL" --server-pid "$PID" 2>/dev/null | report stream-2k new
stop
"$dir/new" bench --floor --subscribers 1000 --messages 500 --rate 50 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("floor paced-1k      1000 connections, 50 writes/s each: %.2f µs CPU per write" % d["cpu_us_per_write"])'
"$dir/new" bench --floor --subscribers 10000 --messages 50 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("floor 10k          10000 connections, as fast as they go: %.2f µs CPU per write" % d["cpu_us_per_write"])'
"$dir/new" bench --floor-publish --subscribers 2000 --messages 20000 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("floor publish-2k   2000 connections, 4 publishers: %.2f µs CPU per publish" % d["cpu_us_per_publish"])'
for tr in sse ws poll; do
  for b in "${builds[@]}"; do
    server "$(bin "$b")"
    "$dir/new" bench --json --transport "$tr" --subscribers 10000 --messages 0 --server "$URL" --server-pid "$PID" 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print("idle %-9s %-4s 10000 connections: %.1f KB of server RSS each" % (sys.argv[1], sys.argv[2], d.get("server_rss_kb_per_conn", 0)))' "$tr" "$b"
    stop
  done
done
