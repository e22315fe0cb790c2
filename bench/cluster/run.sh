#!/usr/bin/env bash
# Cross-node broadcast benchmark on one throwaway PostgreSQL (scripts/with-postgres.sh):
#  1. the bus alone (bus_bench.c): two stores, one publishing as fast as it can, messages/s
#     received at the other for 150-byte and 1000-byte messages;
#  2. two switchboard nodes, one sender on node A, one receiver on A (same node) and one on
#     B (cross-node, over the cluster bus): messages/s and send -> receive p50/p99 for both
#     paths, measured in the same run (bench/cluster/bench.mjs).
#
# usage: bench/cluster/run.sh SWITCHBOARD_BINARY [COUNT] [RATE]
#   COUNT  broadcasts per phase (default 20000), RATE  broadcasts/s in the latency phase
#   (default 2000). Starts only its own processes and stops them by pid; bounded in time.
set -euo pipefail

SB_BIN=${1:?usage: run.sh SWITCHBOARD_BINARY [COUNT] [RATE]}
COUNT=${2:-20000}
RATE=${3:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SB_BIN=$(cd "$(dirname "$SB_BIN")" && pwd)/$(basename "$SB_BIN")

if [ -z "${SB_TEST_PG_URL:-}" ]; then
    exec "$ROOT/scripts/with-postgres.sh" "$0" "$SB_BIN" "$COUNT" "$RATE"
fi

WORK=$(mktemp -d /tmp/sbcluster.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

start_node() { # name, extra args...
    local name=$1
    shift
    "$SB_BIN" serve --listen 127.0.0.1:0 --db "$SB_TEST_PG_URL" --workers 2 --log-level warn \
        --login-attempts 1000 --ws-max-queue 64MiB "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 1 200); do
        if grep -q 'listening on' "$WORK/$name.out"; then
            sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/$name.out"
            return 0
        fi
        sleep 0.1
    done
    echo "node $name did not start" >&2
    cat "$WORK/$name.err" >&2
    return 1
}

make -s -C "$HERE" BUILD="$(dirname "$SB_BIN")" bus_bench >&2
"$HERE/bus_bench" "$SB_TEST_PG_URL" 200000 150
"$HERE/bus_bench" "$SB_TEST_PG_URL" 50000 1000

A=$(start_node a --demo)
B=$(start_node b)
echo "nodes: $A $B (one PostgreSQL: $SB_TEST_PG_URL)" >&2
cd "$ROOT"
timeout 300 node "$HERE/bench.mjs" "$A" "$B" "$COUNT" "$RATE"
for n in a b; do
    url=$([ $n = a ] && echo "$A" || echo "$B")
    curl -s "$url/metrics" | grep -E '^switchboard_bus_(published|dropped|notifies|spilled|received)_total' |
        sed "s/^/node $n: /"
done
