#!/usr/bin/env bash
# HTTP benchmark: switchboard (--workers 1) vs nginx (1 worker, no master) serving the same
# file, both pinned to CPU $SERVER_CPU, wrk pinned to CPU $CLIENT_CPU. Builds nothing.
#
#   bench/http/run.sh path/to/switchboard [duration_s=10] [connections=50]
#
# Prints requests/s and latency p50/p99 for: switchboard /livez, switchboard /index.html,
# nginx /index.html, and the switchboard/nginx ratio for the static file. Kills only the
# processes it started. Needs root for nginx (it runs as the current user with a temp prefix).
set -euo pipefail

BIN=${1:?usage: $0 path/to/switchboard [duration_s] [connections]}
DUR=${2:-10}
CONNS=${3:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-/usr/bin/wrk}

[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
[ -x "$NGINX" ] || { echo "nginx not found at $NGINX" >&2; exit 2; }
[ -x "$WRK" ] || { echo "wrk not found at $WRK" >&2; exit 2; }

TMP=$(mktemp -d /tmp/sb-httpbench.XXXXXX)
SB_PID=""
NG_PID=""
cleanup() {
    [ -n "$SB_PID" ] && kill "$SB_PID" 2>/dev/null && wait "$SB_PID" 2>/dev/null || true
    [ -n "$NG_PID" ] && kill "$NG_PID" 2>/dev/null && wait "$NG_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# --- switchboard ---
SB_PORT=$(free_port)
taskset -c "$SERVER_CPU" "$BIN" serve --listen "127.0.0.1:$SB_PORT" --db "sqlite:$TMP/sb.db" \
    --workers 1 --log-level warn --log-format json >"$TMP/sb.out" 2>"$TMP/sb.err" &
SB_PID=$!
wait_http "http://127.0.0.1:$SB_PORT/livez"

# --- nginx with the same file ---
mkdir -p "$TMP/nginx/html" "$TMP/nginx/logs" "$TMP/nginx/tmp"
curl -fsS "http://127.0.0.1:$SB_PORT/index.html" -o "$TMP/nginx/html/index.html"
NG_PORT=$(free_port)
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    types { text/html html; }
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NG_PORT;
        root $TMP/nginx/html;
        etag on;
    }
}
EOF
taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
    >"$TMP/nginx/logs/stdout" 2>&1 &
NG_PID=$!
wait_http "http://127.0.0.1:$NG_PORT/index.html"

cmp -s <(curl -fsS "http://127.0.0.1:$SB_PORT/index.html") <(curl -fsS "http://127.0.0.1:$NG_PORT/index.html") ||
    { echo "the two servers serve different bytes" >&2; exit 1; }

# Run wrk and print "rps p50_ms p99_ms".
bench() { # url
    local out
    out=$(timeout $((DUR + 20)) taskset -c "$CLIENT_CPU" "$WRK" -t1 -c"$CONNS" -d"${DUR}s" --latency "$1")
    echo "$out" >>"$TMP/wrk.log"
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${errs}"
}
to_ms() { # wrk prints 1.23ms / 456.00us / 1.20s
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "servers pinned to CPU $SERVER_CPU, wrk pinned to CPU $CLIENT_CPU; wrk -t1 -c$CONNS -d${DUR}s"
echo "switchboard $("$BIN" --version | awk '{print $2}') --workers 1; $("$NGINX" -v 2>&1 | sed 's/.*: //') worker_processes 1"
printf '%-34s %12s %10s %10s\n' target requests/s p50_ms p99_ms
read -r sb_l_rps sb_l_p50 sb_l_p99 sb_l_err < <(bench "http://127.0.0.1:$SB_PORT/livez")
printf '%-34s %12s %10s %10s %s\n' "switchboard /livez" "$sb_l_rps" "$sb_l_p50" "$sb_l_p99" "$sb_l_err"
read -r sb_s_rps sb_s_p50 sb_s_p99 sb_s_err < <(bench "http://127.0.0.1:$SB_PORT/index.html")
printf '%-34s %12s %10s %10s %s\n' "switchboard /index.html" "$sb_s_rps" "$sb_s_p50" "$sb_s_p99" "$sb_s_err"
read -r ng_rps ng_p50 ng_p99 ng_err < <(bench "http://127.0.0.1:$NG_PORT/index.html")
printf '%-34s %12s %10s %10s %s\n' "nginx /index.html" "$ng_rps" "$ng_p50" "$ng_p99" "$ng_err"
awk -v a="$sb_s_rps" -v b="$ng_rps" -v c="$sb_l_rps" 'BEGIN {
    printf "ratio switchboard/nginx, static file: %.2f\n", a / b
    printf "ratio switchboard /livez / nginx static: %.2f\n", c / b }'
