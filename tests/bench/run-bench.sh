#!/usr/bin/env bash
# run-bench.sh — starlingd and mosquitto side by side under the same load.
#
#   tests/bench/run-bench.sh [BUILD_DIR] [bench-fanout options…]
#
# Starts each broker on a free loopback port, runs bench-fanout against it,
# and prints both results. A benchmark, not a test: it prints numbers.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/_build}
shift || true
bench="$build/tests/bench/bench-fanout"
starlingd="$build/broker/daemon/starlingd"
tmp=$(mktemp -d)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# A second pass with strace attached counts every system call the broker
# makes (epoll_wait and epoll_ctl too, which /proc/PID/io does not see).
# strace slows the broker down, so this pass is only for the count.
count_syscalls () {
  local pid=$1 port=$2; shift 2
  if ! command -v strace >/dev/null; then
    echo "(strace not installed: no full system-call count)"
    return 0
  fi
  strace -f -c -p "$pid" -o "$tmp/strace.$pid" 2>/dev/null &
  local spid=$!
  sleep 0.5
  local out
  out=$("$bench" 127.0.0.1 "$port" "$@")
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
  local delivered calls
  delivered=$(sed -n 's/^delivered \([0-9]*\) .*/\1/p' <<<"$out")
  calls=$(awk '$NF == "total" { print $(NF-2) }' "$tmp/strace.$pid")
  python3 -c 'import sys; d,c=int(sys.argv[1]),int(sys.argv[2]); print(f"all broker system calls per delivered message (strace pass): {c/d:.3f} ({c} calls, {d} delivered)")' "$delivered" "$calls"
}

free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port () {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

echo "== starlingd ($(nproc) cores, --threads $(nproc))"
"$starlingd" --dev --data-dir "$tmp/starling" --mqtt 127.0.0.1:0 --mqtts off --ws off --wss off --api off \
  --log-level warning --ready-file "$tmp/ready.json" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
sport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listeners"]["mqtt"]["port"])' "$tmp/ready.json")
"$bench" 127.0.0.1 "$sport" --pid "${pids[0]}" "$@"
count_syscalls "${pids[0]}" "$sport" "$@"

if command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
  mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  mport=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$mport" > "$tmp/mosquitto.conf"
  echo
  echo "== mosquitto $($mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') (single-threaded)"
  "$mosquitto" -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$mport"
  "$bench" 127.0.0.1 "$mport" --pid "${pids[1]}" "$@"
  count_syscalls "${pids[1]}" "$mport" "$@"
else
  echo "mosquitto is not installed (apt-get install mosquitto) — no comparison"
fi
