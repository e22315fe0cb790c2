#!/usr/bin/env bash
# Realtime fan-out benchmark: switchboard (--workers 1 and --workers 2) against a Node `ws`
# broadcast server (bench/fanout/peer.mjs) and a minimal C epoll broadcaster
# (bench/fanout/peer_epoll.c, the floor of the machine; with --batch, one send per subscriber
# per loop round), in one run.
#
# usage: bench/fanout/run.sh SWITCHBOARD_BINARY [SIZES] [EVENTS] [RATE]
#   SIZES   subscriber counts, default "1000 10000"
#   EVENTS  events published per phase, default 200 (ignored with FANOUT_RATES)
#   RATE    events per second, default 20 (ignored with FANOUT_RATES)
# Environment:
#   FANOUT_KIND=pg|broadcast   pg (default): PATCH /api/v1/agents/{id} (POST /publish for the
#       peers) -> subscribers bound to postgres_changes on agent_status (1.4 KB frames);
#       broadcast: a WebSocket publisher sends broadcasts on realtime:bench (FANOUT_PAD bytes
#       of padding, default 0: 157-byte frames, about the issue's 155) that every other member receives.
#   FANOUT_SERVERS   default "sb1 sb2 node epoll" (switchboard --workers 1, --workers 2, the
#       Node ws peer, the epoll peer). "switchboard" is sb2 and "peer" is node (older names).
#       epollb: the epoll peer with --batch (every frame of one epoll_wait round for a
#       subscriber goes out in one send(), the batching switchboard does per loop round): the
#       floor to compare switchboard with; epoll (one send per delivery) shows what batching buys.
#       base1/base2: another switchboard binary (FANOUT_SB_BASE), e.g. before a change.
#   FANOUT_RATES     a sweep: events/s, ascending, e.g. "25 50 100 150". Every rate runs for
#       every server (interleaved, so they share the machine's state); a server's sweep stops
#       after its first point with loss (missing or closed subscribers) or below 90 % of the
#       offered deliveries/s. Each point publishes FANOUT_SECONDS (default 4) s of events.
#   FANOUT_PIN=1 (default when there are 2+ CPUs): single-threaded servers (sb1, node, epoll, epollb)
#       run under taskset -c 0, generators and publisher under taskset -c 1; sb2 is not pinned.
#   FANOUT_PUB_CONNS   keep-alive connections of the REST/peer publisher (default 16): it is
#       open loop, an event due while all of them wait for an answer is sent when one frees
#       and counted in the publisher's late= (the "pub late" column), never dropped.
#   FANOUT_PER_PROC (subscribers per generator process, default 2500, < 19000),
#   FANOUT_TRIGGER=rest|sql (pg on switchboard: default rest when the PATCH works, else sql),
#   NODE_PATH (where `ws` lives if not in the repository's node_modules),
#   FANOUT_REPEAT (runs of every phase, default 1; the summary shows medians).
#   FANOUT_KEEP=1 keeps every point's folder (server logs, databases) beside results.txt.
#   FANOUT_PERF="perf record options" (e.g. "-g" or "--call-graph dwarf -F 499") profiles the
#       server from the publish to the last delivery into the point's perf.data (with
#       FANOUT_KEEP=1 to keep it).
#
# For every (server, size, rate) phase it starts a fresh server (switchboard: --demo, temp
# sqlite db), connects SIZE subscribers from several generator processes bound to
# 127.0.0.1..127.0.0.8, waits until all joined, publishes, waits for every delivery, then
# prints deliveries/s, publish-to-receive latency percentiles, server CPU (utime+stime from
# /proc/PID/stat, also per million deliveries), RSS per connection (VmRSS after all joined
# minus before connecting, divided by SIZE; "anon B/conn" the same for RssAnon, without the
# pages of the binary and libraries that serving the connections touched first) and the generators' CPU per received frame after
# all joined ("gen ns/frame": if the generators' CPU runs out, they, not the server, set the
# rate). Only the pids it started are killed; each wait is
# bounded (connect 200 s, delivery 60 s + 2x the publish time, generators --timeout-s).
set -euo pipefail

SB_BIN=${1:?usage: run.sh SWITCHBOARD_BINARY [SIZES] [EVENTS] [RATE]}
SIZES=${2:-"1000 10000"}
EVENTS=${3:-200}
RATE=${4:-20}
PER_PROC=${FANOUT_PER_PROC:-2500}
KIND=${FANOUT_KIND:-pg}
PAD=${FANOUT_PAD:-0}
SECONDS_PER_POINT=${FANOUT_SECONDS:-4}
PUB_CONNS=${FANOUT_PUB_CONNS:-16}
HERE=$(cd "$(dirname "$0")" && pwd)
SB_BIN=$(cd "$(dirname "$SB_BIN")" && pwd)/$(basename "$SB_BIN")
GEN=$HERE/fanout
WORK=$(mktemp -d /tmp/fanout.XXXXXX)
RESULTS=$WORK/results.txt
CLK_TCK=$(getconf CLK_TCK)
PIDS=()

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    # Keep the results; the points' databases and logs only with FANOUT_KEEP=1.
    [ "${FANOUT_KEEP:-0}" = 1 ] || find "$WORK" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + 2>/dev/null || true
}
trap cleanup EXIT

make -s -C "$HERE" fanout peer_epoll >&2
PIN=${FANOUT_PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}
SRV_TASKSET=()
GEN_TASKSET=()
if [ "$PIN" = 1 ]; then
    SRV_TASKSET=(taskset -c 0)
    GEN_TASKSET=(taskset -c 1)
fi
case "$KIND" in pg | broadcast) ;; *) log "FANOUT_KIND must be pg or broadcast"; exit 1 ;; esac
ulimit -n 20000 || { log "cannot raise ulimit -n to 20000 (hard limit $(ulimit -Hn))"; exit 1; }
[ -x "$SB_BIN" ] || { log "$SB_BIN is not executable"; exit 1; }
(cd "$HERE" && node -e 'require.resolve("ws")' 2>/dev/null) ||
    { log "node cannot find 'ws': run npm ci at the repository root or set NODE_PATH"; exit 1; }

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# thread_ticks PID: "tid:name ticks" per thread (name from comm, spaces removed).
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        awk '{ s = $0; sub(/^[0-9]+ \(/, "", s); name = s; sub(/\).*/, "", name); sub(/^.*\) /, "", s);
               split(s, f, " "); gsub(/ /, "_", name); print FILENAME, name, f[12] + f[13] }' "$t/stat" 2>/dev/null
    done | sed 's#^/proc/[0-9]*/task/\([0-9]*\)/stat #\1:#'
}
# thread_delta BEFORE AFTER: the three busiest threads over the interval, "tid:name=secs,..."
thread_delta() {
    awk -v tck="$CLK_TCK" 'NR == FNR { b[$1] = $2; next } { d = ($2 - b[$1]) / tck; if (d > 0.005) printf "%s=%.2f\n", $1, d }' \
        <(echo "$1") <(echo "$2") | sort -t= -k2 -rn | head -3 | paste -sd, -
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Anonymous resident memory (heap, stacks): what connections cost, without the pages of the
# binary and its libraries that serving them touched for the first time (VmRSS counts those).
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
now_s() { date +%s.%N; }
# machine_ticks: "busy total" jiffies over all CPUs (idle and iowait count as not busy).
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

# wait_for CMD TIMEOUT_S: poll CMD every 0.2 s.
wait_for() {
    local cmd=$1 t=$2 end
    end=$(($(date +%s) + t))
    until eval "$cmd"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=eval("JSON.parse(s)"+process.argv[1]);console.log(v===undefined?"":v)})' "$1"; }

# switchboard's passes writing gathered frames so far (/metrics; src/net/ws.c), 0 for a peer:
# deliveries per pass show how much the loop batches.
ws_passes() {
    curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '$1 == "switchboard_ws_passes_total" { p = $2 } END { print p + 0 }'
}

SERVER_PID=
start_switchboard() {
    local port=$1 dir=$2 workers=$3 bin=$4 pin=()
    [ "$workers" = 1 ] && pin=("${SRV_TASKSET[@]}")
    "${pin[@]}" "$bin" serve --listen "127.0.0.1:$port" --db "sqlite:$dir/sb.db" --demo \
        --workers "$workers" --access-ttl 1h --max-user-connections 0 --max-connections-per-ip 0 \
        --log-level warn --log-format text >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for "curl -sf http://127.0.0.1:$port/livez >/dev/null" 30 || {
        log "switchboard did not come up"; tail -20 "$dir/server.log" >&2; return 1; }
}

start_peer() {
    local port=$1 dir=$2
    "${SRV_TASKSET[@]}" node "$HERE/peer.mjs" --port "$port" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for "grep -q listening '$dir/server.log'" 15 || {
        log "peer did not come up"; cat "$dir/server.log" >&2; return 1; }
}

# start_epoll PORT DIR [--batch]
start_epoll() {
    local port=$1 dir=$2
    shift 2
    "${SRV_TASKSET[@]}" "$HERE/peer_epoll" --port "$port" "$@" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for "grep -q listening '$dir/server.log'" 15 || {
        log "epoll peer did not come up"; cat "$dir/server.log" >&2; return 1; }
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    local _
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# publish_sql DB AGENT_ID: the fallback trigger, direct writes the change-log triggers capture.
publish_sql() {
    local db=$1 agent=$2 k t step
    step=$(awk -v r="$RATE" 'BEGIN{printf "%.4f", 1/r}')
    for k in $(seq "$EVENTS"); do
        t=$(date +%s%N)
        sqlite3 -cmd '.timeout 10000' "$db" \
            "UPDATE agent_status SET status='busy', reason='bench $t', version=version+1 WHERE id='$agent'"
        sleep "$step"
    done
    echo "published=$EVENTS failed=0 trigger=sql"
}

# run_phase NAME SIZE: one point (EVENTS at RATE); the summary line goes to $RESULTS and
# LAST_LOSSY is set to 1 when the point lost deliveries or fell below 90 % of the offered rate.
LAST_LOSSY=0
run_phase() {
    local name=$1 n=$2 dir port token="bench" agent="" trigger="peer"
    case "$name" in switchboard) name=sb2 ;; peer) name=node ;; esac
    dir=$WORK/$KIND-$name-$n-r$RATE-run$REP
    mkdir -p "$dir"
    port=$(free_port)
    log "== $KIND $name, $n subscribers, $EVENTS events at $RATE/s (port $port, dir $dir)"
    if [[ "$name" =~ ^(sb|base)[12]$ ]]; then
        local bin=$SB_BIN
        [[ "$name" = base* ]] && bin=${FANOUT_SB_BASE:?FANOUT_SB_BASE: the binary of the base1/base2 rows}
        start_switchboard "$port" "$dir" "${name: -1}" "$bin"
        token=$(curl -sf -X POST -H 'Content-Type: application/json' \
            -d '{"email":"admin@acme.test","password":"demo-password"}' \
            "http://127.0.0.1:$port/api/v1/auth/login" | json_get '.access_token')
        [ -n "$token" ] || { log "login failed"; return 1; }
        agent=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/agents" |
            json_get '.data[0].id' || true)
        trigger=${FANOUT_TRIGGER:-rest}
        if [ "$KIND" = broadcast ]; then
            trigger=ws
        elif [ -z "$agent" ]; then
            agent=$(sqlite3 -cmd '.timeout 10000' "$dir/sb.db" \
                "SELECT a.id FROM agent_status a JOIN clients c ON c.id=a.client_id WHERE c.slug='acme' LIMIT 1")
            trigger=sql
        elif [ "$trigger" = rest ]; then
            local code
            code=$(curl -s -o "$dir/patch.json" -w '%{http_code}' -X PATCH \
                -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
                -d '{"status":"busy","reason":"bench 0"}' "http://127.0.0.1:$port/api/v1/agents/$agent")
            [ "$code" = 200 ] || { log "PATCH answered $code: $(cat "$dir/patch.json")"; trigger=sql; }
        fi
        log "trigger=$trigger agent=$agent"
    elif [ "$name" = epoll ]; then
        start_epoll "$port" "$dir"
    elif [ "$name" = epollb ]; then
        start_epoll "$port" "$dir" --batch
    else
        start_peer "$port" "$dir"
    fi
    [ "$KIND" = broadcast ] && trigger=ws
    sleep 1

    local procs=$(((n + PER_PROC - 1) / PER_PROC)) k per src a b gpids=() outs=()
    [ "$procs" -ge 2 ] || procs=2
    per=$(((n + procs - 1) / procs))
    local rss0 anon0 cpu0 t0
    rss0=$(rss_kb "$SERVER_PID")
    anon0=$(anon_kb "$SERVER_PID")
    cpu0=$(cpu_ticks "$SERVER_PID")
    t0=$(now_s)
    local left=$n
    for ((k = 0; k < procs; k++)); do
        local c=$((left < per ? left : per))
        left=$((left - c))
        a=$(((2 * k) % 8 + 1))
        b=$(((2 * k + 1) % 8 + 1))
        src="127.0.0.$a,127.0.0.$b"
        "${GEN_TASKSET[@]}" "$GEN" sub --port "$port" --path "/realtime/v1/websocket?apikey=$token&vsn=1.0.0" \
            --token "$token" --conns "$c" --src "$src" --expect "$EVENTS" --inflight 100 --kind "$KIND" \
            --ready "$dir/ready.$k" --out "$dir/out.$k" --connect-timeout-s 180 \
            --timeout-s $((240 + EVENTS / RATE * 3)) --idle-s 15 --linger-s 60 \
            2>"$dir/gen.$k.err" &
        gpids+=($!)
        PIDS+=($!)
        outs+=("$dir/out.$k")
    done
    if ! wait_for "[ \$(ls '$dir'/ready.* 2>/dev/null | wc -l) -eq $procs ]" 200; then
        log "subscribers did not settle in 200 s"
    fi
    local joined connect_s
    joined=$(cat "$dir"/ready.* 2>/dev/null | sed -n 's/^joined=\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
    connect_s=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.2f", b-a}')
    log "joined $joined/$n in ${connect_s}s; $(head -c 300 "$dir/ready.0")"
    sleep 2
    local rss1 anon1 cpu1 t1
    rss1=$(rss_kb "$SERVER_PID")
    anon1=$(anon_kb "$SERVER_PID")
    cpu1=$(cpu_ticks "$SERVER_PID")
    t1=$(now_s)
    local th1 m1
    th1=$(thread_ticks "$SERVER_PID")
    m1=$(machine_ticks)

    local passes1
    passes1=$(ws_passes "$port")
    local perf_pid=""
    if [ -n "${FANOUT_PERF:-}" ]; then
        perf record $FANOUT_PERF -p "$SERVER_PID" -o "$dir/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    local pubout
    if [ "$trigger" = sql ]; then
        pubout=$(publish_sql "$dir/sb.db" "$agent")
    elif [ "$trigger" = ws ]; then
        pubout=$("${GEN_TASKSET[@]}" "$GEN" pub --port "$port" --mode ws --token "$token" \
            --path "/realtime/v1/websocket?apikey=$token&vsn=1.0.0" --pad "$PAD" \
            --count "$EVENTS" --rate "$RATE" || true)
    elif [ "$trigger" = rest ]; then
        pubout=$("${GEN_TASKSET[@]}" "$GEN" pub --port "$port" --mode rest --token "$token" --agent "$agent" \
            --count "$EVENTS" --rate "$RATE" --conns "$PUB_CONNS" || true)
    else
        pubout=$("${GEN_TASKSET[@]}" "$GEN" pub --port "$port" --mode peer --count "$EVENTS" --rate "$RATE" \
            --conns "$PUB_CONNS" || true)
    fi
    log "publisher: $pubout"
    if ! wait_for "[ \$(ls '$dir'/out.* 2>/dev/null | wc -l) -eq $procs ]" $((60 + EVENTS / RATE * 2)); then
        log "generators did not finish in time; stopping them"
    fi
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    local cpu2 t2 rss2 passes2
    cpu2=$(cpu_ticks "$SERVER_PID")
    passes2=$(ws_passes "$port")
    rss2=$(rss_kb "$SERVER_PID")
    t2=$(now_s)
    local threads m2
    threads=$(thread_delta "$th1" "$(thread_ticks "$SERVER_PID")")
    m2=$(machine_ticks)
    for k in "${gpids[@]}"; do kill "$k" 2>/dev/null || true; done
    for k in "${gpids[@]}"; do wait "$k" 2>/dev/null || true; done
    local merged
    merged=$("$GEN" merge "${outs[@]}" 2>&1 || true)
    stop_server
    PIDS=() # all reaped: never signal a pid that may have been reused
    local line
    line=$(awk -v name="$name" -v n="$n" -v joined="$joined" -v cs="$connect_s" -v kind="$KIND" \
        -v rate="$RATE" -v events="$EVENTS" \
        -v rss0="$rss0" -v rss1="$rss1" -v rss2="$rss2" -v tck="$CLK_TCK" \
        -v anon0="$anon0" -v anon1="$anon1" \
        -v c0="$cpu0" -v c1="$cpu1" -v c2="$cpu2" -v t1="$t1" -v t2="$t2" \
        -v trig="$trigger" -v merged="$merged" -v pub="$pubout" -v threads="${threads:--}" \
        -v m1="$m1" -v m2="$m2" -v p1="$passes1" -v p2="$passes2" -v load="$(cut -d' ' -f1 /proc/loadavg)" -v rep="$REP" 'BEGIN {
        split(m1, a, " "); split(m2, b, " ")
        printf "server=%s kind=%s subscribers=%d rate=%d offered=%d run=%d joined=%d connect_s=%s trigger=%s ", name, kind, n, rate, n * rate, rep, joined, cs, trig
        printf "machine_busy_pct=%.0f loadavg1=%s ", 100 * (b[1] - a[1]) / (b[2] - a[2]), load
        printf "rss_before_kb=%d rss_joined_kb=%d rss_end_kb=%d rss_per_conn_kb=%.2f anon_per_conn_b=%.0f ", rss0, rss1, rss2, (rss1 - rss0) / n, 1024 * (anon1 - anon0) / n
        printf "cpu_connect_s=%.2f cpu_publish_s=%.2f publish_wall_s=%.2f ", (c1 - c0) / tck, (c2 - c1) / tck, t2 - t1
        printf "ws_passes=%d ", p2 - p1
        printf "cpu_publish_pct=%.1f busiest_threads=%s %s | %s\n", 100 * (c2 - c1) / tck / (t2 - t1), threads, merged, pub
    }')
    # CPU seconds per million deliveries, and whether the point lost anything.
    local deliv missing closed dps pubfail
    deliv=$(sed -n 's/.* deliveries=\([0-9]*\) .*/\1/p' <<<"$line")
    missing=$(sed -n 's/.* missing=\(-*[0-9]*\) .*/\1/p' <<<"$line")
    closed=$(sed -n 's/.* closed=\([0-9]*\) .*/\1/p' <<<"$line")
    dps=$(sed -n 's/.* deliveries_per_s=\([0-9]*\) .*/\1/p' <<<"$line")
    # A publish that failed is an event nobody was expected to get: the point is lossy too.
    pubfail=$(sed -n 's/.*| published=[0-9]* failed=\([0-9]*\).*/\1/p' <<<"$line")
    LAST_LOSSY=$(awk -v m="${missing:-1}" -v c="${closed:-1}" -v d="${dps:-0}" -v o="$((n * RATE))" -v j="$joined" -v n="$n" \
        -v f="${pubfail:-0}" 'BEGIN { print ((m > 0 || c > 0 || j < n || f > 0 || d < 0.9 * o) ? 1 : 0) }')
    line=$(awk -v l="$line" -v d="${deliv:-0}" -v lossy="$LAST_LOSSY" 'BEGIN {
        match(l, /cpu_publish_s=[0-9.]+/); c = substr(l, RSTART + 14, RLENGTH - 14)
        printf "%s cpu_s_per_M=%.2f lossy=%d\n", l, (d > 0 ? c / d * 1e6 : 0), lossy }')
    echo "$line" | tee -a "$RESULTS"
}

SERVERS=${FANOUT_SERVERS:-sb1 sb2 node epoll}
for ((REP = 1; REP <= ${FANOUT_REPEAT:-1}; REP++)); do
    for n in $SIZES; do
        if [ -z "${FANOUT_RATES:-}" ]; then
            for server in $SERVERS; do
                run_phase "$server" "$n"
            done
            continue
        fi
        declare -A done_at=()
        for RATE in $FANOUT_RATES; do
            EVENTS=$((RATE * SECONDS_PER_POINT))
            [ "$EVENTS" -ge 20 ] || EVENTS=20
            for server in $SERVERS; do
                [ -z "${done_at[$server]:-}" ] || continue
                run_phase "$server" "$n"
                [ "$LAST_LOSSY" = 0 ] || done_at[$server]=$RATE
            done
        done
        unset done_at
    done
done

# Tables: every phase, then the median over runs per (kind, server, size, rate), then each
# server against each peer that ran (the epoll floors, the Node peer), then the highest
# loss-free point.
echo
node - "$RESULTS" <<'EOF'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => {
  const o = {};
  for (const m of l.matchAll(/(\w+)=(\S+)/g)) if (!(m[1] in o)) o[m[1]] = m[2];
  return o;
});
const cols = [
  ['kind', 'kind'], ['server', 'server'], ['subscribers', 'subs'], ['rate', 'ev/s'], ['offered', 'offered/s'],
  ['run', 'run'], ['joined', 'joined'], ['missing', 'missing'], ['closed', 'closed'],
  ['deliveries_per_s', 'deliv/s'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['max_ms', 'max ms'],
  ['request_p50_ms', 'req p50 ms'], ['late', 'pub late'], ['cpu_publish_s', 'CPU s'], ['cpu_s_per_M', 'CPU s/M deliv'],
  ['cpu_publish_pct', 'CPU %'], ['rss_per_conn_kb', 'RSS KiB/conn'], ['anon_per_conn_b', 'anon B/conn'], ['machine_busy_pct', 'machine busy %'],
  ['loadavg1', 'load'], ['gen_rx_ns_per_frame', 'gen ns/frame'], ['lossy', 'lossy'],
];
const line = (a) => '| ' + a.join(' | ') + ' |';
const table = (rs) => {
  console.log(line(cols.map((c) => c[1])));
  console.log(line(cols.map(() => '---')));
  for (const r of rs) console.log(line(cols.map((c) => r[c[0]] ?? '')));
  console.log();
};
table(rows);
const median = (xs) => {
  const v = xs.map(Number).sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const key = (r, server) => [r.kind, server ?? r.server, r.subscribers, r.rate].join('/');
const groups = new Map();
for (const r of rows) {
  const k = key(r);
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const med = new Map();
for (const [k, rs] of groups) {
  const o = { ...rs[0], run: `median of ${rs.length}` };
  for (const [c] of cols) {
    if (['kind', 'server', 'subscribers', 'rate', 'run'].includes(c)) continue;
    if (rs.every((r) => r[c] !== undefined && !isNaN(+r[c]))) o[c] = String(+median(rs.map((r) => r[c])).toFixed(2));
  }
  med.set(k, o);
}
if (rows.length > med.size) table([...med.values()]);
const num = ['deliveries_per_s', 'p50_ms', 'p99_ms', 'max_ms', 'cpu_s_per_M', 'rss_per_conn_kb', 'anon_per_conn_b'];
const cpeers = ['epoll', 'epollb'];
for (const peer of [...cpeers, 'node']) {
  if (![...med.values()].some((s) => s.server === peer)) continue;
  console.log(line([`server/${peer}`, 'kind', 'subs', 'ev/s', ...num]));
  console.log(line(['---', '---', '---', '---', ...num.map(() => '---')]));
  for (const s of med.values()) {
    if (s.server === peer || (peer === 'node' && cpeers.includes(s.server))) continue;
    const p = med.get(key(s, peer));
    if (!p) continue;
    console.log(line([s.server, s.kind, s.subscribers, s.rate, ...num.map((k) => (+p[k] ? (+s[k] / +p[k]).toFixed(2) : 'n/a'))]));
  }
  console.log();
}
console.log(line(['kind', 'subs', 'server', 'highest loss-free deliv/s', 'p50 ms', 'p99 ms', 'first lossy offered/s']));
console.log(line(['---', '---', '---', '---', '---', '---', '---']));
const best = new Map();
for (const r of med.values()) {
  const k = [r.kind, r.subscribers, r.server].join('/');
  const b = best.get(k) ?? { r: null, lossy: null };
  if (+r.lossy === 0 && (!b.r || +r.deliveries_per_s > +b.r.deliveries_per_s)) b.r = r;
  if (+r.lossy !== 0 && (!b.lossy || +r.offered < +b.lossy)) b.lossy = r.offered;
  best.set(k, b);
}
for (const [k, b] of best) {
  const [kind, subs, server] = k.split('/');
  console.log(line([kind, subs, server, b.r ? b.r.deliveries_per_s : 'none', b.r?.p50_ms ?? '', b.r?.p99_ms ?? '', b.lossy ?? 'none']));
}
EOF
log "raw results: $RESULTS"
