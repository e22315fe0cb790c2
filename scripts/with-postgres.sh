#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server:
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# initdb's a fresh cluster in a temporary directory, starts it on a unix socket in that
# directory and on 127.0.0.1 at a free port, creates the database "sbtest", exports
#   SB_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/sbtest
# (plus SB_TEST_PG_HOST, SB_TEST_PG_PORT for tools that want the parts, and SB_TEST_PG_CTL, a
# script taking stop|start|restart to bounce that server under a test), runs the command
# and stops the server and removes the directory on exit, whatever happens. PostgreSQL
# refuses to run as root, so as root the server runs as the `postgres` system user (the
# Debian package creates it). Everything is bounded in time: startup 30 s, the command
# SB_PG_TIMEOUT seconds (default 600). Exit status: the command's, or 77 when no PostgreSQL
# server binaries are installed (CTest reports that as skipped).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

pgbin="${SB_PG_BIN:-}"
if [ -z "$pgbin" ]; then
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && pgbin="$d"
  done
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "with-postgres: no PostgreSQL server found (install the postgresql package)" >&2
  exit 77
fi

as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "with-postgres: running as root and there is no postgres user" >&2
    exit 77
  fi
  as_pg=(runuser -u postgres --)
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/sb-pg-XXXXXX")"
data="$dir/data"
started=0
cleanup() {
  if [ "$started" -eq 1 ]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$data" -m immediate -t 20 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ ${#as_pg[@]} -gt 0 ] && chown postgres: "$dir"
chmod 700 "$dir"

timeout 60 "${as_pg[@]}" "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port=""
for attempt in 1 2 3 4 5 6 7 8; do
  cand=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  port_free "$cand" || continue
  pgopts="-k $dir -p $cand -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
        -c synchronous_commit=off -c max_connections=200"
  if timeout 40 "${as_pg[@]}" "$pgbin/pg_ctl" -D "$data" -w -t 30 -l "$dir/server.log" \
    -o "$pgopts" start >/dev/null 2>&1; then
    port="$cand"
    started=1
    break
  fi
  echo "with-postgres: start on port $cand failed (attempt $attempt)" >&2
done
if [ -z "$port" ]; then
  cat "$dir/server.log" >&2 || true
  exit 1
fi

timeout 30 "${as_pg[@]}" "$pgbin/createdb" -h "$dir" -p "$port" -U postgres sbtest

# A handle on the server for tests that restart it (same data directory, port and options).
cat >"$dir/pgctl" <<EOF
#!/usr/bin/env bash
set -euo pipefail
case "\${1:-}" in
  stop) exec timeout 40 ${as_pg[*]} "$pgbin/pg_ctl" -D "$data" -m fast -w -t 30 stop ;;
  start|restart) exec timeout 40 ${as_pg[*]} "$pgbin/pg_ctl" -D "$data" -m fast -w -t 30 \\
    -l "$dir/server.log" -o "$pgopts" "\$1" ;;
  *) echo "usage: \$0 stop|start|restart" >&2; exit 2 ;;
esac
EOF
chmod 755 "$dir/pgctl"

export SB_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/sbtest"
export SB_TEST_PG_CTL="$dir/pgctl"
export SB_TEST_PG_HOST=127.0.0.1
export SB_TEST_PG_PORT="$port"
echo "with-postgres: $SB_TEST_PG_URL" >&2
set +e
timeout "${SB_PG_TIMEOUT:-600}" "$@"
rc=$?
set -e
exit "$rc"
