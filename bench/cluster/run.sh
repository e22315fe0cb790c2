#!/usr/bin/env bash
# Cross-node broadcast benchmark (issue 10, "Measure") on one throwaway PostgreSQL
# (scripts/with-postgres.sh):
#  1. the bus alone (bus_bench.c): two stores, one publishing as fast as it can, messages/s
#     received at the other for 150-byte and 1000-byte messages;
#  2. two switchboard nodes A and B. SENDERS sender processes on node A (fanout pub --mode ws,
#     one WebSocket each, each on its own topic realtime:bench-K), and receiver processes on
#     A (same node) and on B (cross-node, over the cluster bus) that join every sender's
#     topic (fanout sub --kind broadcast), so neither sending nor receiving is one socket or
#     one process. Two phases, each with fresh receivers:
#       throughput  COUNT broadcasts, unpaced (as fast as node A takes them) or at
#                   CLUSTER_TPUT_RATE/s; messages/s at each receiver from the first send to
#                   its last receipt;
#       latency     LAT_COUNT broadcasts at LAT_RATE/s; send -> receive p50/p90/p99/max on
#                   each node (every message carries its CLOCK_REALTIME send time; all
#                   processes are on this machine, so one clock).
#     Every message is counted: each receiver reports deliveries, missing (lost anywhere:
#     bus or node), disorder (a sender's sequence going backwards on a receiver: duplicate
#     or reordered), and closed (receivers the server cut off, e.g. 4008 slow consumer);
#     the nodes' counters (bus published/dropped/notifies, cluster broadcasts in/out, slow
#     consumer drops/disconnects) are printed as differences over the phase.
#
# usage: bench/cluster/run.sh SWITCHBOARD_BINARY [COUNT] [SENDERS] [LAT_RATE] [LAT_COUNT]
#   COUNT      broadcasts in the throughput phase, over all senders (default 200000)
#   SENDERS    sender processes on node A (default 4, at most 64)
#   LAT_RATE   broadcasts/s in the latency phase, over all senders (default 1000)
#   LAT_COUNT  broadcasts in the latency phase (default 20000)
# Environment: CLUSTER_TPUT_RATE (total offered rate of the throughput phase, default 0 =
#   unpaced), CLUSTER_RECEIVERS (receiver processes per node, default 1), CLUSTER_PAD (padding
#   bytes per broadcast, default 0: frames of about 190 bytes), CLUSTER_BUS_BENCH=0 (skip the
#   bus alone), CLUSTER_PERF=DIR (perf record -g both nodes during the throughput phase into
#   DIR/a.data and DIR/b.data), CLUSTER_WORKERS (--workers per node, default 2).
#
# Loopback only. Starts only its own processes and stops them by pid; every wait is bounded
# (node start 20 s, receivers joining 30 s, each sender 300 s, receivers 300 s).
set -euo pipefail

SB_BIN=${1:?usage: run.sh SWITCHBOARD_BINARY [COUNT] [SENDERS] [LAT_RATE] [LAT_COUNT]}
COUNT=${2:-200000}
SENDERS=${3:-4}
LAT_RATE=${4:-1000}
LAT_COUNT=${5:-20000}
TPUT_RATE=${CLUSTER_TPUT_RATE:-0}
RECEIVERS=${CLUSTER_RECEIVERS:-1}
PAD=${CLUSTER_PAD:-0}
WORKERS=${CLUSTER_WORKERS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SB_BIN=$(cd "$(dirname "$SB_BIN")" && pwd)/$(basename "$SB_BIN")
GEN=$ROOT/bench/fanout/fanout

if [ -z "${SB_TEST_PG_URL:-}" ]; then
    exec "$ROOT/scripts/with-postgres.sh" "$0" "$SB_BIN" "$COUNT" "$SENDERS" "$LAT_RATE" "$LAT_COUNT"
fi
if [ "$SENDERS" -lt 1 ] || [ "$SENDERS" -gt 64 ]; then echo "SENDERS must be 1..64" >&2; exit 2; fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

WORK=$(mktemp -d /tmp/sbcluster.XXXXXX)
NODE_PIDS=()
GEN_PIDS=()
PERF_PIDS=()
cleanup() {
    for p in "${PERF_PIDS[@]:-}" "${GEN_PIDS[@]:-}" "${NODE_PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PERF_PIDS[@]:-}" "${GEN_PIDS[@]:-}" "${NODE_PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    if [ -n "${CLUSTER_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_for() { # CMD TIMEOUT_S
    local cmd=$1 end=$(($(date +%s) + $2))
    until eval "$cmd"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}
json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=eval("JSON.parse(s)"+process.argv[1]);console.log(v===undefined?"":v)})' "$1"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
threads_cpu() { # PID -> "tid cpu_ticks" per thread
    cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{print $1, $14 + $15}'
}
thread_diff() { # BEFORE AFTER -> the busiest threads' CPU seconds over the phase
    awk -v t="$(getconf CLK_TCK)" 'NR == FNR { b[$1] = $2; next } { print ($2 - b[$1]) / t }' "$1" "$2" |
        sort -gr | head -6 | awk '{printf "%s%.2f", (NR > 1) ? "," : "", $1}'
}
pg_cpu() { # CPU seconds of the PostgreSQL server's live processes (backends, walwriter...)
    local pm
    pm=$(ss -ltnpH "sport = :$SB_TEST_PG_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    [ -n "$pm" ] || { echo 0; return; }
    for c in $pm $(pgrep -P "$pm"); do cat "/proc/$c/stat" 2>/dev/null; done |
        awk -v t="$(getconf CLK_TCK)" '{s += $14 + $15} END {printf "%.2f", s / t}'
}

make -s -C "$ROOT/bench/fanout" fanout >&2
if [ "${CLUSTER_BUS_BENCH:-1}" != 0 ]; then
    make -s -C "$HERE" BUILD="$(dirname "$SB_BIN")" bus_bench >&2
    log "bus alone (load average $(loadavg))"
    "$HERE/bus_bench" "$SB_TEST_PG_URL" 200000 150
    "$HERE/bus_bench" "$SB_TEST_PG_URL" 50000 1000
fi

PORTS=()
start_node() { # name, extra args...
    local name=$1
    shift
    "$SB_BIN" serve --listen 127.0.0.1:0 --db "$SB_TEST_PG_URL" --workers "$WORKERS" \
        --access-ttl 1h --max-user-connections 0 --max-connections-per-ip 0 \
        --ws-max-queue 64MiB --log-level warn --log-format text "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    NODE_PIDS+=($!)
    wait_for "grep -q 'listening on' '$WORK/$name.out'" 20 || {
        log "node $name did not start"; cat "$WORK/$name.err" >&2; return 1; }
    PORTS+=("$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/$name.out")")
}
start_node a --demo
start_node b
A=${PORTS[0]}
B=${PORTS[1]}
log "nodes A :$A B :$B (pids ${NODE_PIDS[*]}), one PostgreSQL: $SB_TEST_PG_URL"
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"email":"admin@acme.test","password":"demo-password"}' \
    "http://127.0.0.1:$A/api/v1/auth/login" | json_get '.access_token')
[ -n "$TOKEN" ] || { log "login failed"; exit 1; }
WSPATH="/realtime/v1/websocket?apikey=$TOKEN&vsn=1.0.0"
METRICS='switchboard_bus_(published|dropped|notifies|received)_total|switchboard_cluster_broadcasts_(sent|received)_total|switchboard_realtime_slow_consumer_drops_total|switchboard_slow_consumer_disconnects_total'
metrics() { # PORT -> "name value" lines
    curl -sf "http://127.0.0.1:$1/metrics" | grep -E "^($METRICS) " || true
}
metric_diff() { # BEFORE AFTER -> "name=delta ..."
    awk 'NR == FNR { b[$1] = $2; next } { printf "%s=%d ", $1, $2 - b[$1] }' "$1" "$2" |
        sed 's/switchboard_//g'
}
sleep 2 # the nodes hear each other's heartbeats

phase() { # NAME TOTAL_COUNT TOTAL_RATE (0: unpaced)
    local name=$1 total=$2 rate=$3
    local per=$((total / SENDERS)) dir=$WORK/$1 k r
    local expect=$((per * SENDERS))
    local per_rate=$((rate > 0 ? (rate + SENDERS - 1) / SENDERS : 0))
    mkdir -p "$dir"
    GEN_PIDS=()
    local pub_pids=()
    local node port
    for node in a b; do
        port=$A
        [ $node = a ] || port=$B
        for ((r = 0; r < RECEIVERS; r++)); do
            "$GEN" sub --port "$port" --path "$WSPATH" --token "$TOKEN" --conns 1 --src 127.0.0.1 \
                --expect "$expect" --kind broadcast --topics "$SENDERS" \
                --ready "$dir/ready.$node.$r" --out "$dir/out.$node.$r" \
                --connect-timeout-s 30 --timeout-s 300 --idle-s 10 2>"$dir/sub.$node.$r.err" &
            GEN_PIDS+=($!)
        done
    done
    wait_for "[ \$(ls '$dir'/ready.* 2>/dev/null | wc -l) -eq $((2 * RECEIVERS)) ]" 30 ||
        { log "receivers did not join in 30 s"; return 1; }
    if grep -L '^joined=1 ' "$dir"/ready.* | grep -q .; then
        log "a receiver failed to join: $(cat "$dir"/ready.*)"
        return 1
    fi
    metrics "$A" >"$dir/ma0"
    metrics "$B" >"$dir/mb0"
    local cpua0 cpub0 load0 pg0
    cpua0=$(cpu_s "${NODE_PIDS[0]}")
    cpub0=$(cpu_s "${NODE_PIDS[1]}")
    pg0=$(pg_cpu)
    threads_cpu "${NODE_PIDS[0]}" >"$dir/ta0"
    threads_cpu "${NODE_PIDS[1]}" >"$dir/tb0"
    load0=$(loadavg)
    if [ -n "${CLUSTER_PERF:-}" ] && [ "$name" = throughput ]; then
        mkdir -p "$CLUSTER_PERF"
        perf record -F 999 -g -p "${NODE_PIDS[0]}" -o "$CLUSTER_PERF/a.data" 2>"$dir/perf.a.err" &
        PERF_PIDS+=($!)
        perf record -F 999 -g -p "${NODE_PIDS[1]}" -o "$CLUSTER_PERF/b.data" 2>"$dir/perf.b.err" &
        PERF_PIDS+=($!)
        sleep 1
    fi
    log "== $name: $SENDERS senders x $per broadcasts on node A at $([ "$rate" -gt 0 ] &&
        echo "$rate/s in all" || echo "full speed"); receivers: $RECEIVERS on A, $RECEIVERS on B"
    # node A's bus queue (bytes waiting for the publisher thread), sampled every 0.5 s
    (for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$A/metrics" | sed -n 's/^switchboard_bus_queue_bytes //p'
        sleep 0.5
    done) >"$dir/queue" 2>/dev/null &
    local sampler=$!
    GEN_PIDS+=("$sampler")
    for ((k = 0; k < SENDERS; k++)); do
        timeout 300 "$GEN" pub --port "$A" --mode ws --path "$WSPATH" --token "$TOKEN" \
            --topic "realtime:bench-$k" --id "$k" --count "$per" --rate "$per_rate" --pad "$PAD" \
            >"$dir/pub.$k" 2>&1 &
        pub_pids+=($!)
    done
    GEN_PIDS+=("${pub_pids[@]}")
    for p in "${pub_pids[@]}"; do wait "$p" || log "a sender failed: $(cat "$dir"/pub.*)"; done
    wait_for "[ \$(ls '$dir'/out.* 2>/dev/null | wc -l) -eq $((2 * RECEIVERS)) ]" 300 ||
        log "receivers did not finish in 300 s; stopping them"
    for p in "${PERF_PIDS[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null || true; done
    for p in "${PERF_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    PERF_PIDS=()
    for p in "${GEN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    kill "$sampler" 2>/dev/null || true
    for p in "${GEN_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    GEN_PIDS=()
    metrics "$A" >"$dir/ma1"
    metrics "$B" >"$dir/mb1"
    threads_cpu "${NODE_PIDS[0]}" >"$dir/ta1"
    threads_cpu "${NODE_PIDS[1]}" >"$dir/tb1"
    local sent=0 secs=0
    sent=$(cat "$dir"/pub.* | sed -n 's/^published=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
    secs=$(cat "$dir"/pub.* | sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' | sort -g | tail -1)
    echo "RESULT $name senders=$SENDERS receivers_per_node=$RECEIVERS sent=$sent" \
        "send_s=$secs send_rate=$(awk -v n="$sent" -v s="$secs" 'BEGIN{printf "%.0f", (s > 0) ? n / s : 0}')" \
        "offered=$([ "$rate" -gt 0 ] && echo "$rate/s" || echo unpaced) pad=$PAD" \
        "loadavg_before=\"$load0\" loadavg_after=\"$(loadavg)\""
    # shellcheck disable=SC2086
    echo "RESULT $name same-node (A): $("$GEN" merge $dir/out.a.* 2>&1)"
    # shellcheck disable=SC2086
    echo "RESULT $name cross-node (B): $("$GEN" merge $dir/out.b.* 2>&1)"
    echo "RESULT $name node A: cpu_s=$(awk -v a="$cpua0" -v b="$(cpu_s "${NODE_PIDS[0]}")" 'BEGIN{printf "%.2f", b-a}')" \
        "busiest_threads_s=$(thread_diff "$dir/ta0" "$dir/ta1") $(metric_diff "$dir/ma0" "$dir/ma1")"
    echo "RESULT $name node B: cpu_s=$(awk -v a="$cpub0" -v b="$(cpu_s "${NODE_PIDS[1]}")" 'BEGIN{printf "%.2f", b-a}')" \
        "busiest_threads_s=$(thread_diff "$dir/tb0" "$dir/tb1") $(metric_diff "$dir/mb0" "$dir/mb1")"
    echo "RESULT $name node A bus queue: max_bytes=$(sort -g "$dir/queue" | tail -1)" \
        "samples=$(wc -l <"$dir/queue")"
    echo "RESULT $name postgresql: cpu_s=$(awk -v a="$pg0" -v b="$(pg_cpu)" 'BEGIN{printf "%.2f", b-a}')"
}

phase throughput "$COUNT" "$TPUT_RATE"
sleep 2
phase latency "$LAT_COUNT" "$LAT_RATE"
for ((i = 0; i < 2; i++)); do
    kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || log "node $i died: $(tail -5 "$WORK/$([ $i = 0 ] && echo a || echo b).err")"
done
