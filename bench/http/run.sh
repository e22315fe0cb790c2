#!/usr/bin/env bash
# HTTP benchmark: switchboard (--workers 1) against the C epoll peer (bench/fanout/peer_epoll,
# a trivial keep-alive answer) and, when installed, nginx (1 worker, no master) serving the
# same file. Servers pinned to CPU $SERVER_CPU, wrk pinned to CPU $CLIENT_CPU (PIN=0: no
# pinning). Builds only the epoll peer (make -C bench/fanout peer_epoll).
#
#   bench/http/run.sh path/to/switchboard [duration_s=10] [connections=50] [repeat=1]
#
# Rows (wrk -t1, keep-alive, loopback; every row `repeat` times, interleaved, median printed):
#   switchboard GET /livez                        -c CONNS
#   epoll peer  GET /livez                        -c CONNS
#   switchboard GET /api/v1/agents (Bearer, 5 rows of the demo tenant)   -c CONNS
#   the same list from a second switchboard at the default log level (info, a line per request)
#   switchboard PATCH /api/v1/agents/{id} (Bearer, SQLite, durable)      -c 16
#   switchboard GET /index.html, nginx GET /index.html (nginx only if installed)
# Needs wrk (Debian package wrk: `apt-get install -y wrk`). Kills only what it starts.
set -euo pipefail

BIN=${1:?usage: $0 path/to/switchboard [duration_s] [connections] [repeat]}
DUR=${2:-10}
CONNS=${3:-50}
REPEAT=${4:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-/usr/bin/wrk}
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
[ -x "$WRK" ] || { echo "wrk not found at $WRK (apt-get install -y wrk)" >&2; exit 2; }
make -s -C "$HERE/../fanout" peer_epoll >&2

SRV=(taskset -c "$SERVER_CPU")
CLI=(taskset -c "$CLIENT_CPU")
if [ "${PIN:-1}" = 0 ]; then
    SRV=()
    CLI=()
fi

TMP=$(mktemp -d /tmp/sb-httpbench.XXXXXX)
SB_PID=""
SBI_PID=""
NG_PID=""
EP_PID=""
cleanup() {
    for p in $SB_PID $SBI_PID $NG_PID $EP_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
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

# --- switchboard (demo data: the Acme admin and its agents) ---
SB_PORT=$(free_port)
"${SRV[@]}" "$BIN" serve --listen "127.0.0.1:$SB_PORT" --db "sqlite:$TMP/sb.db" --demo \
    --workers 1 --access-ttl 1h --log-level warn --log-format json >"$TMP/sb.out" 2>"$TMP/sb.err" &
SB_PID=$!
wait_http "http://127.0.0.1:$SB_PORT/livez"
# The same at the default log level (info: a JSON line per request, into a file), as operators run it.
SBI_PORT=$(free_port)
"${SRV[@]}" "$BIN" serve --listen "127.0.0.1:$SBI_PORT" --db "sqlite:$TMP/sbi.db" --demo \
    --workers 1 --access-ttl 1h --log-level info --log-format json >"$TMP/sbi.out" 2>"$TMP/sbi.err" &
SBI_PID=$!
wait_http "http://127.0.0.1:$SBI_PORT/livez"
TOKEN=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"email":"admin@acme.test","password":"demo-password"}' \
    "http://127.0.0.1:$SB_PORT/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
AGENTS_JSON=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SB_PORT/api/v1/agents")
AGENT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"][0]["id"])' "$AGENTS_JSON")
NROWS=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["data"]))' "$AGENTS_JSON")
cat >"$TMP/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $TOKEN"
EOF
TOKEN_I=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"email":"admin@acme.test","password":"demo-password"}' \
    "http://127.0.0.1:$SBI_PORT/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat >"$TMP/get_info.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $TOKEN_I"
EOF
cat >"$TMP/patch.lua" <<EOF
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local st = (n % 2 == 0) and "busy" or "online"
  return wrk.format(nil, nil, nil, '{"status":"' .. st .. '","reason":"wrk ' .. n .. '"}')
end
local failed = false
response = function(status, headers, body)
  if status ~= 200 and not failed then
    failed = true
    local f = io.open("$TMP/patch_fail.txt", "w")
    f:write(status .. " " .. body .. "\n")
    f:close()
  end
end
EOF

# --- epoll peer ---
EP_PORT=$(free_port)
"${SRV[@]}" "$HERE/../fanout/peer_epoll" --port "$EP_PORT" >"$TMP/ep.out" 2>&1 &
EP_PID=$!
wait_http "http://127.0.0.1:$EP_PORT/livez"

# --- nginx with the same file (optional) ---
NG_PORT=""
if [ -x "$NGINX" ]; then
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
    "${SRV[@]}" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout" 2>&1 &
    NG_PID=$!
    wait_http "http://127.0.0.1:$NG_PORT/index.html"
fi

to_ms() { # wrk prints 1.23ms / 456.00us / 1.20s
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

# bench NAME CONNS URL [LUA]: one wrk run, appends "NAME rps p50 p99 non2xx" to $TMP/rows.
bench() {
    local name=$1 c=$2 url=$3 lua=${4:-} out
    local args=(-t1 -c"$c" -d"${DUR}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    out=$(timeout $((DUR + 20)) "${CLI[@]}" "$WRK" "${args[@]}" "$url")
    echo "$out" >>"$TMP/wrk.log"
    local rps p50 p99 bad
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {e=1} END {}' <<<"$out")
    echo "$name $rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}" >>"$TMP/rows"
    printf '%-44s %12s %10s %10s %s\n' "$name (run)" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "non2xx=${bad:-0}" >&2
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${PIN:-1}" = 0 ]; then echo "no pinning (PIN=0)"; else echo "servers pinned to CPU $SERVER_CPU, wrk pinned to CPU $CLIENT_CPU"; fi
echo "wrk -t1 -d${DUR}s; $REPEAT run(s) per row, interleaved"
echo "switchboard $("$BIN" --version | awk '{print $2}') --workers 1; $NROWS agents in the list"
for ((r = 1; r <= REPEAT; r++)); do
    bench "switchboard GET /livez c$CONNS" "$CONNS" "http://127.0.0.1:$SB_PORT/livez"
    bench "epoll-peer GET /livez c$CONNS" "$CONNS" "http://127.0.0.1:$EP_PORT/livez"
    bench "switchboard GET /api/v1/agents c$CONNS" "$CONNS" "http://127.0.0.1:$SB_PORT/api/v1/agents" "$TMP/get.lua"
    bench "switchboard GET /api/v1/agents c$CONNS log-level=info" "$CONNS" "http://127.0.0.1:$SBI_PORT/api/v1/agents" "$TMP/get_info.lua"
    bench "switchboard PATCH /api/v1/agents/{id} c16" 16 "http://127.0.0.1:$SB_PORT/api/v1/agents/$AGENT" "$TMP/patch.lua"
    if [ -n "$NG_PORT" ]; then
        bench "switchboard GET /index.html c$CONNS" "$CONNS" "http://127.0.0.1:$SB_PORT/index.html"
        bench "nginx GET /index.html c$CONNS" "$CONNS" "http://127.0.0.1:$NG_PORT/index.html"
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$TMP/patch_fail.txt" ] && echo "first failed PATCH: $(head -c 300 "$TMP/patch_fail.txt")"
# Medians per row, and switchboard /livez against the epoll peer.
awk '{ n = $1; for (i = 2; i <= NF - 4; i++) n = n " " $i; k[n]++; rps[n, k[n]] = $(NF - 3);
       p50[n, k[n]] = $(NF - 2); p99[n, k[n]] = $(NF - 1); bad[n] += $NF; if (!(n in seen)) { seen[n] = 1; order[++no] = n } }
     function med(a, n, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[n, i] + 0
         for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
     END { printf "%-44s %12s %10s %10s %s\n", "target (median)", "requests/s", "p50_ms", "p99_ms", "non-2xx"
           for (o = 1; o <= no; o++) { n = order[o]; m[n] = med(rps, n, k[n])
               printf "%-44s %12.0f %10.3f %10.3f %d\n", n, m[n], med(p50, n, k[n]), med(p99, n, k[n]), bad[n] }
           for (n in m) { if (n ~ /^switchboard GET \/livez/) a = m[n]; if (n ~ /^epoll-peer/) b = m[n] }
           if (a && b) printf "ratio switchboard /livez / epoll peer /livez: %.2f\n", a / b }' "$TMP/rows"
