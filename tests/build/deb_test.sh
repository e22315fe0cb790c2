#!/usr/bin/env bash
# The Debian package, as a test: build it (scripts/build-deb.sh, lintian errors fail), check
# its control data and file list, extract it (dpkg -x) and use what it installs: the server
# and sbctl run, the default config passes `switchboard config check`, the static library
# links through its pkg-config file, and systemd-analyze verify accepts the unit (pointed at
# the extracted binary and man pages). Then `dpkg --root -i` into an empty scratch root (with
# --force-script-chrootless the maintainer scripts run against DPKG_ROOT, not this machine):
# the switchboard system user, /var/lib/switchboard 0700 owned by it, the config readable by
# root and the service only; then remove and purge (the database directory stays).
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

# dpkg -i into a scratch root.
sr=$tmp/scratch
mkdir -p "$sr/var/lib/dpkg/info" "$sr/var/lib/dpkg/updates" "$sr/etc"
touch "$sr/var/lib/dpkg/status"
host_before="$(getent passwd switchboard || true) $(ls -ld /var/lib/switchboard 2>/dev/null || true)"
dpkg --root="$sr" --force-script-chrootless --force-depends --log=/dev/null -i "$deb" \
  >"$tmp/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$tmp/dpkg.log")"
dpkg --root="$sr" -s switchboard | grep -qx 'Status: install ok installed' || fail "not installed"
grep -q '^switchboard:x:[0-9]*:[0-9]*:.*:/var/lib/switchboard:/usr/sbin/nologin$' "$sr/etc/passwd" ||
  fail "no switchboard user in the scratch root"
uid=$(awk -F: '$1 == "switchboard" { print $3 }' "$sr/etc/passwd")
gid=$(awk -F: '$1 == "switchboard" { print $3 }' "$sr/etc/group")
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "switchboard is not a system user (uid $uid)"
[ "$(stat -c '%a %u %g' "$sr/var/lib/switchboard")" = "700 $uid $gid" ] ||
  fail "/var/lib/switchboard: $(stat -c '%a %u %g' "$sr/var/lib/switchboard")"
[ "$(stat -c '%a %u %g' "$sr/etc/switchboard/switchboard.conf")" = "640 0 $gid" ] ||
  fail "switchboard.conf: $(stat -c '%a %u %g' "$sr/etc/switchboard/switchboard.conf")"
"$sr/usr/bin/switchboard" --version | grep -q '^switchboard [0-9]' || fail "installed binary"
host_after="$(getent passwd switchboard || true) $(ls -ld /var/lib/switchboard 2>/dev/null || true)"
[ "$host_before" = "$host_after" ] || fail "the scratch install touched this machine: $host_after"
dpkg --root="$sr" --force-script-chrootless --force-depends --log=/dev/null --purge switchboard \
  >"$tmp/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$tmp/dpkg.log")"
[ ! -e "$sr/usr/bin/switchboard" ] && [ ! -e "$sr/etc/switchboard/switchboard.conf" ] ||
  fail "purge left the package's files"
[ -d "$sr/var/lib/switchboard" ] || fail "purge removed the database directory"

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
