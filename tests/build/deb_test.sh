#!/usr/bin/env bash
# The Debian package, as a test: build it (scripts/build-deb.sh, lintian errors fail), check
# its control data and file list, extract it (dpkg -x; this machine cannot give dpkg -i a
# clean root) and use what it installs: the server and sbctl run, the default config passes
# `switchboard config check`, the static library links through its pkg-config file, the
# sysusers file creates the switchboard user in the extracted root, and systemd-analyze
# verify accepts the unit (pointed at the extracted binary and man pages).
#   deb_test.sh [CC]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cc=${1:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-debtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

SB_WERROR=ON JOBS=${SB_BUILD_JOBS:-2} timeout 1500 "$src/scripts/build-deb.sh" "$tmp/out" "$tmp/build"
deb=$(ls "$tmp"/out/switchboard_*.deb)

# Control data.
dpkg-deb -f "$deb" Package | grep -qx switchboard || fail "Package field"
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>=' || fail "Depends lacks libc6: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -f "$deb" Depends | grep -q 'libsqlite3-0' || fail "Depends lacks libsqlite3-0"
for f in /etc/switchboard/switchboard.conf /etc/logrotate.d/switchboard; do
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx "$f" || fail "$f is not a conffile"
done

# Files, owners and modes.
dpkg-deb -c "$deb" >"$tmp/list"
for f in ./usr/bin/switchboard ./usr/bin/sbctl ./usr/include/switchboard.h \
  "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libswitchboard.a" \
  "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig/switchboard.pc" \
  ./usr/share/man/man1/switchboard.1.gz ./usr/share/man/man1/sbctl.1.gz \
  ./usr/share/man/man3/libswitchboard.3.gz ./lib/systemd/system/switchboard.service \
  ./usr/lib/sysusers.d/switchboard.conf ./etc/switchboard/switchboard.conf \
  ./etc/logrotate.d/switchboard ./usr/share/doc/switchboard/copyright \
  ./usr/share/doc/switchboard/changelog.gz; do
  grep -q " $f\$" "$tmp/list" || fail "missing $f"
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/switchboard$' "$tmp/list" || fail "switchboard mode/owner"
if grep -q 'libswitchboard.so' "$tmp/list"; then fail "ships the shared library"; fi
if grep -v ' ./$' "$tmp/list" | grep -qv ' root/root '; then fail "a file not owned by root"; fi

# The extracted tree works.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/switchboard" --version | grep -q '^switchboard [0-9]' || fail "switchboard --version"
"$root/usr/bin/sbctl" --version | grep -q '[0-9]' || fail "sbctl --version"
"$root/usr/bin/switchboard" config check --config "$root/etc/switchboard/switchboard.conf" >"$tmp/check" ||
  fail "config check rejects the shipped config"
grep -q '^db *= *sqlite:/var/lib/switchboard/switchboard.db *(file)' "$tmp/check" ||
  fail "config check: db does not come from the file: $(cat "$tmp/check")"
if file -b "$root/usr/bin/switchboard" | grep -q 'not stripped'; then fail "switchboard not stripped"; fi
if grep -aq "has not been built into this binary" "$root/usr/bin/switchboard"; then
  fail "the packaged server embeds the placeholder page"
fi
zcat "$root/usr/share/man/man1/switchboard.1.gz" | grep -q '^\.TH' || fail "man page"

# The server starts from the extracted tree and answers.
"$root/usr/bin/switchboard" serve --listen 127.0.0.1:0 --db "sqlite:$tmp/db.sqlite" --workers 1 \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 300); do
  grep -q 'listening on' "$tmp/serve.out" && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/serve.out")
[ -n "$url" ] || { kill "$pid"; fail "the packaged server did not start: $(cat "$tmp/serve.err")"; }
body=$(timeout 10 "$root/usr/bin/sbctl" --url "$url" request GET /readyz 2>&1 || true)
kill -TERM "$pid"
wait "$pid" || fail "the packaged server did not exit 0 on SIGTERM"
[ "$body" = '{"status":"ready"}' ] || fail "the packaged server did not answer /readyz: $body"

# The library links through its pkg-config file (sysroot: the extracted tree).
cat >"$tmp/use.c" <<'C'
#include <stdio.h>
#include <switchboard.h>
int main(void) { printf("%s\n", sb_version()); return 0; }
C
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_LIBDIR=$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig:/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig:/usr/share/pkgconfig
# shellcheck disable=SC2046
"$cc" -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs --static switchboard)
"$tmp/use" | grep -q '[0-9]' || fail "a program linked with libswitchboard.a does not run"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

# The system user, from the package's sysusers.d file.
if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$root/etc"
  systemd-sysusers --root="$root" >/dev/null 2>&1
  grep -q '^switchboard:x:[0-9]*:[0-9]*:.*:/var/lib/switchboard:/usr/sbin/nologin$' "$root/etc/passwd" ||
    fail "sysusers did not create the switchboard user"
  uid=$(awk -F: '$1 == "switchboard" { print $3 }' "$root/etc/passwd")
  [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "switchboard is not a system user (uid $uid)"
fi

# The unit.
unit=$root/lib/systemd/system/switchboard.service
for d in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' User=switchboard StateDirectory=switchboard StateDirectoryMode=0700 \
  ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes; do
  grep -qx "$d" "$unit" || fail "the unit lacks $d"
done
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/unit"
  sed "s|/usr/bin/switchboard|$root/usr/bin/switchboard|" "$unit" >"$tmp/unit/switchboard.service"
  out=$(MANPATH=$root/usr/share/man systemd-analyze verify "$tmp/unit/switchboard.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
fi
echo "deb_test: $(basename "$deb") ok"
