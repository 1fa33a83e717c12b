#!/usr/bin/env bash
# Memory of idle users: N users each send one request and then think (60 s) with their
# connection open, against `stampede target` on core 1; the generator (one worker, core 0) has its
# resident memory read from /proc 20 s into the run, when every user is thinking. Run at 1,000,
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
rss() { # users -> KiB resident 4 s in
  cat >$W/idle.toml <<TOML
target = "http://127.0.0.1:$PORT"
[load]
executor = "constant-vus"
vus = $1
duration = "25s"
[[users]]
name = "idle"
think = "60s"
  [[users.steps]]
  request = "GET /"
TOML
  taskset -c 0 "$BIN" run -q -t 1 $W/idle.toml >$W/out 2>&1 & local p=$!
  sleep 20
  awk '/^VmRSS/ {print $2}' /proc/$p/status
  wait $p
}
declare -A KIB
for n in "${COUNTS[@]}"; do
  vals=(); for _ in $(seq "$ROUNDS"); do vals+=("$(rss "$n")"); done
  KIB[$n]=$(printf '%s\n' "${vals[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
  printf '%6d idle users: RSS %7d KiB (median of %s: %s)\n' "$n" "${KIB[$n]}" "$ROUNDS" "${vals[*]}"
done
lo=${COUNTS[0]}; hi=${COUNTS[-1]}
if [[ $lo != "$hi" ]]; then
  python3 -c "print(f'slope: {( ${KIB[$hi]} - ${KIB[$lo]} ) * 1024 / ( $hi - $lo ):.0f} bytes per idle user ({$lo} -> {$hi} users)')"
fi
