#!/usr/bin/env bash
# Two switchboard binaries side by side on the request paths, in alternating runs (this VM's
# speed moves between quarter hours, so only pairs run back to back compare): the
# authenticated list at the default log level (info) and the agent status PATCH (c16, SQLite,
# durable), each server on CPU $SERVER_CPU with --workers 1, wrk on CPU $CLIENT_CPU.
#
#   bench/http/ab.sh BINARY_A BINARY_B [runs=5] [seconds=4]
#
# Prints every run (req/s; for PATCH also the server's CPU microseconds per request from
# /proc) and the median of each. Needs wrk. Kills only what it starts.
set -euo pipefail

A=${1:?usage: $0 BINARY_A BINARY_B [runs] [seconds]}
B=${2:?usage: $0 BINARY_A BINARY_B [runs] [seconds]}
RUNS=${3:-5}
DUR=${4:-4}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WRK=${WRK:-/usr/bin/wrk}
[ -x "$WRK" ] || { echo "wrk not found at $WRK (apt-get install -y wrk)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/sb-ab.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A PORT PID AGENT
for side in A B; do
    bin=${!side}
    [ -x "$bin" ] || { echo "not executable: $bin" >&2; exit 2; }
    mkdir -p "$TMP/$side"
    PORT[$side]=$(free_port)
    taskset -c "$SERVER_CPU" "$bin" serve --listen "127.0.0.1:${PORT[$side]}" \
        --db "sqlite:$TMP/$side/sb.db" --demo --workers 1 --access-ttl 1h --log-level info \
        --log-format json >"$TMP/$side/out" 2>"$TMP/$side/err" &
    PID[$side]=$!
    PIDS+=("${PID[$side]}")
    url="http://127.0.0.1:${PORT[$side]}"
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$url/livez" 2>/dev/null && break
        sleep 0.1
    done
    token=$(curl -fsS -X POST -H 'Content-Type: application/json' \
        -d '{"email":"admin@acme.test","password":"demo-password"}' "$url/api/v1/auth/login" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    AGENT[$side]=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/agents" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
    printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$TMP/$side/list.lua"
    cat >"$TMP/$side/patch.lua" <<EOF
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local st = (n % 2 == 0) and "busy" or "online"
  return wrk.format(nil, nil, nil, '{"status":"' .. st .. '","reason":"ab ' .. n .. '"}')
end
EOF
done

median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }

for r in $(seq 1 "$RUNS"); do
    for side in A B; do
        url="http://127.0.0.1:${PORT[$side]}"
        rps=$(taskset -c "$CLIENT_CPU" "$WRK" -t1 -c50 -d"${DUR}s" -s "$TMP/$side/list.lua" \
            "$url/api/v1/agents" | awk '/Requests\/sec/ {print int($2)}')
        echo "list $side run $r: $rps req/s" | tee -a "$TMP/list.$side"
        t0=$(cpu_ticks "${PID[$side]}")
        out=$(taskset -c "$CLIENT_CPU" "$WRK" -t1 -c16 -d"${DUR}s" -s "$TMP/$side/patch.lua" \
            "$url/api/v1/agents/${AGENT[$side]}")
        t1=$(cpu_ticks "${PID[$side]}")
        n=$(echo "$out" | awk '/requests in/ {print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
        us=$(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) ))
        echo "patch $side run $r: $rps req/s, $us us CPU per PATCH" | tee -a "$TMP/patch.$side"
    done
done
for side in A B; do
    echo "median $side ($(basename "${!side}")): list $(awk '{print $5}' "$TMP/list.$side" | median) req/s," \
        "PATCH $(awk '{print $5}' "$TMP/patch.$side" | median) req/s," \
        "$(awk '{print $7}' "$TMP/patch.$side" | median) us CPU per PATCH"
done
