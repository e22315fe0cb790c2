#!/usr/bin/env bash
# Scale-out benchmark (issue 10, "Measure"): several switchboard nodes on one throwaway
# PostgreSQL (scripts/with-postgres.sh), each holding PER_NODE WebSocket subscribers bound to
# postgres_changes on agent_status; agent status PATCHes are written through node A only, at
# a fixed rate, and every subscriber on every node must receive every event (the other nodes
# learn of them from the change log, woken by NOTIFY). Reports deliveries/s and the publish ->
# receive latency percentiles over all nodes, and per node (A: same node as the writes;
# B, C: across nodes), plus each node's RSS and CPU.
#
# usage: bench/cluster/scaleout.sh SWITCHBOARD_BINARY [PER_NODE] [RATES] [SECONDS]
#   PER_NODE  subscribers per node (default 10000; each node and each generator process must
#             stay within 20,000 open files, so generators hold at most 5,000 each)
#   RATES     events/s written on node A, one point per rate (default "2 5 10"); every point
#             connects a fresh set of subscribers
#   SECONDS   seconds of events per point (default 10)
# Environment: SCALEOUT_NODES (default 3), SCALEOUT_WORKERS (--workers per node, default 2).
#
# Loopback only (127.0.0.1 and source addresses 127.0.0.1-127.0.0.12). Starts only its own
# processes and stops them by pid; every wait is bounded (node start 30 s, subscribers 240 s,
# deliveries 60 s + 3x the publish time, generators --timeout-s).
set -euo pipefail

SB_BIN=${1:?usage: scaleout.sh SWITCHBOARD_BINARY [PER_NODE] [RATES] [SECONDS]}
PER_NODE=${2:-10000}
RATES=${3:-"2 5 10"}
SECS=${4:-10}
NODES=${SCALEOUT_NODES:-3}
WORKERS=${SCALEOUT_WORKERS:-2}
PER_GEN=5000
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SB_BIN=$(cd "$(dirname "$SB_BIN")" && pwd)/$(basename "$SB_BIN")
GEN=$ROOT/bench/fanout/fanout

if [ -z "${SB_TEST_PG_URL:-}" ]; then
    exec "$ROOT/scripts/with-postgres.sh" "$0" "$SB_BIN" "$PER_NODE" "$RATES" "$SECS"
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

WORK=$(mktemp -d /tmp/sbscaleout.XXXXXX)
NODE_PIDS=()
GEN_PIDS=()
cleanup() {
    for p in "${GEN_PIDS[@]:-}" "${NODE_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for p in "${GEN_PIDS[@]:-}" "${NODE_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    if [ -n "${SCALEOUT_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ulimit -n 20000 || { log "cannot raise ulimit -n to 20000 (hard limit $(ulimit -Hn))"; exit 1; }
[ "$PER_NODE" -le 19000 ] || { log "PER_NODE above 19000 does not fit 20,000 files per node"; exit 1; }
make -s -C "$ROOT/bench/fanout" fanout >&2

wait_for() { # CMD TIMEOUT_S
    local cmd=$1 end=$(($(date +%s) + $2))
    until eval "$cmd"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}
json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=eval("JSON.parse(s)"+process.argv[1]);console.log(v===undefined?"":v)})' "$1"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
fds() { ls "/proc/$1/fd" | wc -l; }

PORTS=()
start_node() { # index, extra args...
    local i=$1
    shift
    "$SB_BIN" serve --listen 127.0.0.1:0 --db "$SB_TEST_PG_URL" --workers "$WORKERS" \
        --access-ttl 1h --max-user-connections 0 --max-connections-per-ip 0 \
        --log-level warn --log-format text "$@" >"$WORK/node$i.out" 2>"$WORK/node$i.err" &
    NODE_PIDS+=($!)
    wait_for "grep -q 'listening on' '$WORK/node$i.out'" 30 || {
        log "node $i did not start"; cat "$WORK/node$i.err" >&2; return 1; }
    PORTS+=("$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/node$i.out")")
}

start_node 0 --demo
for ((i = 1; i < NODES; i++)); do start_node "$i"; done
A=${PORTS[0]}
log "nodes on ports ${PORTS[*]} (pids ${NODE_PIDS[*]}), one PostgreSQL: $SB_TEST_PG_URL"
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"email":"admin@acme.test","password":"demo-password"}' \
    "http://127.0.0.1:$A/api/v1/auth/login" | json_get '.access_token')
[ -n "$TOKEN" ] || { log "login failed"; exit 1; }
AGENT=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$A/api/v1/agents" | json_get '.data[0].id')
[ -n "$AGENT" ] || { log "no agent"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"status":"busy","reason":"bench 0"}' \
    "http://127.0.0.1:$A/api/v1/agents/$AGENT")
[ "$code" = 200 ] || { log "PATCH answered $code"; exit 1; }
sleep 2

for RATE in $RATES; do
    EVENTS=$((RATE * SECS))
    dir=$WORK/rate$RATE
    mkdir -p "$dir"
    log "== $NODES nodes x $PER_NODE subscribers, $EVENTS events at $RATE/s written on node A"
    GEN_PIDS=()
    declare -A outs=()
    src_i=0
    t0=$(date +%s.%N)
    for ((i = 0; i < NODES; i++)); do
        left=$PER_NODE
        k=0
        while [ "$left" -gt 0 ]; do
            c=$((left < PER_GEN ? left : PER_GEN))
            left=$((left - c))
            a=$((src_i % 12 + 1))
            b=$(((src_i + 1) % 12 + 1))
            src_i=$((src_i + 2))
            "$GEN" sub --port "${PORTS[$i]}" --path "/realtime/v1/websocket?apikey=$TOKEN&vsn=1.0.0" \
                --token "$TOKEN" --conns "$c" --src "127.0.0.$a,127.0.0.$b" --expect "$EVENTS" \
                --inflight 100 --kind pg --ready "$dir/ready.$i.$k" --out "$dir/out.$i.$k" \
                --connect-timeout-s 200 --timeout-s $((300 + SECS * 3)) --idle-s 15 --linger-s 60 \
                2>"$dir/gen.$i.$k.err" &
            GEN_PIDS+=($!)
            outs[$i]="${outs[$i]:-} $dir/out.$i.$k"
            k=$((k + 1))
        done
    done
    ngen=${#GEN_PIDS[@]}
    wait_for "[ \$(ls '$dir'/ready.* 2>/dev/null | wc -l) -eq $ngen ]" 240 ||
        log "subscribers did not settle in 240 s"
    joined=$(cat "$dir"/ready.* 2>/dev/null | sed -n 's/^joined=\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
    connect_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    log "joined $joined/$((NODES * PER_NODE)) in ${connect_s}s"
    sleep 2
    state=""
    cpu0=()
    for ((i = 0; i < NODES; i++)); do
        p=${NODE_PIDS[$i]}
        cpu0+=("$(cpu_s "$p")")
        state+="node$i: fds=$(fds "$p") rss_mib=$(($(rss_kb "$p") / 1024)); "
    done
    log "after join: $state"
    pubout=$("$GEN" pub --port "$A" --mode rest --token "$TOKEN" --agent "$AGENT" \
        --count "$EVENTS" --rate "$RATE" || true)
    log "publisher (node A): $pubout"
    wait_for "[ \$(ls '$dir'/out.* 2>/dev/null | wc -l) -eq $ngen ]" $((60 + SECS * 3)) ||
        log "generators did not finish in time; stopping them"
    cpu=""
    for ((i = 0; i < NODES; i++)); do
        cpu+="node$i=$(awk -v a="${cpu0[$i]}" -v b="$(cpu_s "${NODE_PIDS[$i]}")" 'BEGIN{printf "%.2f", b-a}')s "
    done
    for p in "${GEN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${GEN_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    GEN_PIDS=()
    # shellcheck disable=SC2086
    echo "RESULT nodes=$NODES per_node=$PER_NODE rate=$RATE events=$EVENTS joined=$joined connect_s=$connect_s all: $("$GEN" merge $dir/out.* 2>&1)"
    for ((i = 0; i < NODES; i++)); do
        # shellcheck disable=SC2086
        echo "RESULT rate=$RATE node$i$([ "$i" = 0 ] && echo ' (writes)' || echo ' (remote)'): $("$GEN" merge ${outs[$i]} 2>&1)"
    done
    echo "RESULT rate=$RATE server_cpu_during_publish: $cpu| $state loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    unset outs
    sleep 3
done
for ((i = 0; i < NODES; i++)); do
    kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || log "node $i died: $(tail -5 "$WORK/node$i.err")"
done
