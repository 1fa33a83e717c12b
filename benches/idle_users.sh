#!/usr/bin/env bash
# Memory of idle users: N users each send one request and then think (300 s) with their
# connection open, against `stampede target` on core 1; the generator (one worker, core 0) has its
# resident memory read from /proc once every user is thinking (the target has answered all N
# requests; then 3 s more, for buffers to be given back), and is then stopped (Ctrl-C). Run at 1,000,
# 10,000 and 19,000 users (19,000: under this machine's open-files limit of 20,000), it prints
# each RSS and the slope between the smallest and largest count: the memory one more idle user
# costs, whatever the process costs with none. Repeats each count (ROUNDS, default 3) and takes
# the median.
# usage (from the project root): benches/idle_users.sh [counts...]   BIN=... to measure a binary
set -u
BIN=${BIN:-$PWD/target/release/stampede}
ROUNDS=${ROUNDS:-3}
COUNTS=("$@"); [[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(1000 10000 19000)
[[ -x $BIN ]] || { echo "no binary at $BIN (cargo build --release)"; exit 1; }
W=$(mktemp -d); TP=""
trap '[[ -n $TP ]] && kill $TP 2>/dev/null; rm -rf $W' EXIT
ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
taskset -c 1 "$BIN" target -l 127.0.0.1:$PORT -t 1 >$W/target.log 2>&1 & TP=$!
for _ in $(seq 50); do curl -s http://127.0.0.1:$PORT/ >/dev/null && break; sleep 0.1; done
answered() { # requests the target has answered on GET / (its /stats)
  curl -s http://127.0.0.1:$PORT/stats | grep -o '"GET /":[0-9]*' | cut -d: -f2
}
rss() { # users -> KiB resident once all of them think
  cat >$W/idle.toml <<TOML
target = "http://127.0.0.1:$PORT"
[load]
executor = "constant-vus"
vus = $1
duration = "120s"
[[users]]
name = "idle"
think = "300s"
  [[users.steps]]
  request = "GET /"
TOML
  local before; before=$(answered)
  taskset -c 0 "$BIN" run -q -t 1 $W/idle.toml >$W/out 2>&1 & local p=$!
  # Every user answered (not a fixed delay: on a busy machine 19,000 connects take a while, and a
  # user still connecting holds more than a thinking one). Bounded: 100 s.
  for _ in $(seq 500); do (( $(answered) - before >= $1 )) && break; sleep 0.2; done
  sleep 3
  awk '/^VmRSS/ {print $2}' /proc/$p/status
  kill -INT $p; wait $p
}
declare -A KIB
for n in "${COUNTS[@]}"; do
  vals=(); for _ in $(seq "$ROUNDS"); do vals+=("$(rss "$n")"); done
  KIB[$n]=$(printf '%s\n' "${vals[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
  printf '%6d idle users: RSS %7d KiB (median of %s: %s)\n' "$n" "${KIB[$n]}" "$ROUNDS" "${vals[*]}"
done
# The slope between each count and the next, and over the whole range: what one more idle user
# costs. Below 2,048 users it also carries the worker's receive buffers, which grow with the users
# up to 2,048 pages (8 MiB) and then stay.
slope() { python3 -c "print(f'slope: {( ${KIB[$2]} - ${KIB[$1]} ) * 1024 / ( $2 - $1 ):.0f} bytes per idle user ($1 -> $2 users)')"; }
for ((i = 1; i < ${#COUNTS[@]}; i++)); do slope "${COUNTS[i-1]}" "${COUNTS[i]}"; done
(( ${#COUNTS[@]} > 2 )) && slope "${COUNTS[0]}" "${COUNTS[-1]}"
exit 0
