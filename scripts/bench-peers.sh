#!/usr/bin/env bash
# bench-peers.sh: the standard cases of halley bench against Halley and a
# peer, Centrifugo, on fresh servers, interleaved run by run, with the
# same load on both: raw SSE subscribers (halley bench --raw) and one HTTP
# publish per message. Prints one line per run, then the medians; ends
# every server it started, by PID.
#
#   CENTRIFUGO=/path/to/centrifugo scripts/bench-peers.sh [RUNS] [CASES]
#
# Each line has the share of the server's CPU in its own code (user
# time; the rest is the kernel's, on its behalf) and the host's steal
# over the run (the share of the machine's time its hypervisor gave to
# other guests): a run with more of it is slower and dearer whatever the
# server.
#
# The last two lines are the machine's floors in the same batch (halley
# bench --floor and --floor-publish).
#
# RUNS defaults to 3, CASES (comma-separated) to every case but
# stream-2k, which a peer does not have. Centrifugo comes from the Go
# module proxy:
#   GOBIN=/tmp/peers go install github.com/centrifugal/centrifugo/v6@v6.9.1
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cases=${2:-fanout-1k,paced-1k,fanout-10k,fanout-19.5k,publish-2k,light}
cf=${CENTRIFUGO:?set CENTRIFUGO to a centrifugo binary (see the head of this script)}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/halley" ./cmd/halley
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start KIND: a fresh server of KIND (halley, centrifugo); sets URL, PID and
# ARGS, the bench flags that go with it.
start() {
  local p; p=$(port)
  URL="http://127.0.0.1:$p"
  if [ "$1" = halley ]; then
    "$dir/halley" --addr "127.0.0.1:$p" --demo=false --session-rate -1 >"$dir/log" 2>&1 &
    ARGS=(--raw)
  else
    cat >"$dir/cf.json" <<EOF
{"http_server": {"address": "127.0.0.1", "port": "$p"}, "log": {"level": "error"},
 "client": {"token": {"hmac_secret_key": "bench-secret"}, "allowed_origins": ["*"]},
 "http_api": {"key": "bench-key"}, "uni_sse": {"enabled": true}, "usage_stats": {"disabled": true}}
EOF
    "$cf" -c "$dir/cf.json" >"$dir/log" 2>&1 &
    ARGS=(--peer centrifugo --peer-secret bench-secret --api-key bench-key)
  fi
  PID=$!; pids+=("$PID")
  until curl -s -o /dev/null "$URL/healthz" || curl -s -o /dev/null "$URL/health"; do sleep 0.05; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

: >"$dir/all.jsonl"
for c in ${cases//,/ }; do
  for run in $(seq "$runs"); do
    for kind in halley centrifugo; do
      start "$kind"
      if "$dir/halley" bench --json --cases --only "$c" --server "$URL" --server-pid "$PID" "${ARGS[@]}" >"$dir/one.json" 2>/dev/null ||
        [ -s "$dir/one.json" ]; then
        python3 -c '
import json, sys
d = json.loads(open(sys.argv[3]).read()); d["kind"] = sys.argv[1]; d["run"] = int(sys.argv[2])
l = d.get("latency_ms") or {}
# The share of the server CPU in its own code (user time); the rest is the kernel time.
user = 100 * d["server_cpu_user_s"] / d["server_cpu_s"] if d.get("server_cpu_user_s") is not None and d.get("server_cpu_s") else 0
print("%-11s %-10s run %d  deliveries/s %8.0f  µs/delivery %6.2f  µs/publish %7.1f  user %3.0f%%  p50 %6.1f ms  p99 %6.1f ms  steal %4.1f%%  lost/dup/ooo %s/%s/%s" % (
  d.get("case"), sys.argv[1], d["run"], d.get("deliveries_per_s", 0), d.get("server_cpu_us_per_delivery", 0),
  d.get("server_cpu_us_per_publish", 0), user, l.get("p50", 0), l.get("p99", 0), d.get("host_steal_pct") or 0,
  d.get("lost"), d.get("duplicated"), d.get("out_of_order")))
open(sys.argv[4], "a").write(json.dumps(d) + "\n")' "$kind" "$run" "$dir/one.json" "$dir/all.jsonl"
      else
        echo "$c $kind run $run: failed"
      fi
      stop
    done
  done
done

echo "medians:"
python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(rs, f):
    v = [f(r) for r in rs if f(r) is not None]
    return statistics.median(v) if v else float("nan")
for c in dict.fromkeys(r["case"] for r in rows):
    for k in ("halley", "centrifugo"):
        rs = [r for r in rows if r["case"] == c and r["kind"] == k]
        if not rs:
            continue
        print("%-11s %-10s deliveries/s %8.0f  µs/delivery %6.2f  µs/publish %7.1f  p50 %6.1f ms  p99 %6.1f ms  steal %4.1f%%  lost %d" % (
            c, k, med(rs, lambda r: r.get("deliveries_per_s")), med(rs, lambda r: r.get("server_cpu_us_per_delivery")),
            med(rs, lambda r: r.get("server_cpu_us_per_publish")), med(rs, lambda r: (r.get("latency_ms") or {}).get("p50")),
            med(rs, lambda r: (r.get("latency_ms") or {}).get("p99")), med(rs, lambda r: r.get("host_steal_pct")),
            sum(r.get("lost") or 0 for r in rs)))' "$dir/all.jsonl"
# The floors of this batch: one write per connection at paced-1k's rate,
# and a plain Go server's publish (halley bench --floor, --floor-publish).
"$dir/halley" bench --floor --subscribers 1000 --messages 500 --rate 50 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("floor paced-1k    %.2f µs CPU per write (steal %.1f%%)" % (d["cpu_us_per_write"], d.get("host_steal_pct") or 0))'
"$dir/halley" bench --floor-publish --subscribers 2000 --messages 20000 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("floor publish-2k  %.2f µs CPU per publish, %.2f of it user (steal %.1f%%)" % (d["cpu_us_per_publish"], d.get("cpu_user_us_per_publish", 0), d.get("host_steal_pct") or 0))'
