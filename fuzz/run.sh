#!/bin/sh
# Build every libFuzzer target in fuzz/ with clang (-fsanitize=fuzzer,address,undefined) and
# run each for a time box, one after the other.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     SECONDS per target (default 60); TARGET e.g. phx
#
# Binaries, working corpora and logs go under $FUZZ_OUT (default /tmp/sb-fuzz); the checked-in
# seeds in fuzz/corpus/<name>/ are read, never written (merge new finds in by hand, see the
# README). A crash leaves crash-* in $FUZZ_OUT/<name>/. Prints one line per target: name,
# seconds, executions, crashes; exits 1 when any target crashed or failed to build.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-/tmp/sb-fuzz}
cc=${CC_FUZZ:-clang}
targets=${*:-"http_parse ws_reader phx rt_filter jwt json_body"}

case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

base="src/base/alloc.c src/base/err.c src/base/buf.c"
srcs() {
    case $1 in
    http_parse) echo "src/net/http/http_parse.c $base" ;;
    ws_reader) echo "src/net/ws/ws_codec.c $base" ;;
    phx) echo "src/realtime/phx.c src/base/json.c $base" ;;
    rt_filter) echo "src/store/schema.c src/base/clock.c $base" ;; # filter.c is #included
    jwt) echo "src/auth/jwt.c src/auth/token.c src/base/rand.c $base" ;;
    json_body) echo "src/base/json.c $base" ;;
    *) return 1 ;;
    esac
}
corpus() {
    case $1 in
    http_parse) echo http ;;
    ws_reader) echo ws ;;
    *) echo "$1" ;;
    esac
}
# Longest input per target: a little over each code's own cap where it has one.
maxlen() {
    case $1 in
    jwt) echo 9000 ;; # AUTH_JWT_MAX_LEN 8192
    *) echo 4096 ;;
    esac
}

status=0
summary=""
for t in $targets; do
    s=$(srcs "$t") || { echo "unknown target $t" >&2; exit 2; }
    dir="$out/$t"
    mkdir -p "$dir/work"
    bin="$dir/fuzz_$t"
    # shellcheck disable=SC2086
    if ! (cd "$root" && $cc -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -Isrc "fuzz/fuzz_$t.c" $s \
        -ljansson -lsodium -lcrypto -lm -o "$bin"); then
        echo "$t: build failed" >&2
        status=1
        summary="$summary$t build-failed\n"
        continue
    fi
    log="$dir/fuzz.log"
    stamp="$dir/.started"
    touch "$stamp"
    set +e
    (cd "$dir" && "$bin" -max_total_time="$secs" -max_len="$(maxlen "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$dir/work" "$root/fuzz/corpus/$(corpus "$t")") \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crashes=$(find "$dir" -maxdepth 1 -newer "$stamp" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        status=1
        echo "$t: libFuzzer exit $rc, see $log" >&2
    fi
    summary="$summary$t ${secs}s ${execs:-?} $crashes\n"
done
printf 'target seconds executions crashes\n%b' "$summary"
exit $status
