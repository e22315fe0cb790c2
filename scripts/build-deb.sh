#!/usr/bin/env bash
# Builds the Debian package (no debhelper: a staging tree assembled here and packed with
# dpkg-deb --root-owner-group), then checks it with lintian (errors fail).
#   scripts/build-deb.sh OUT_DIR [BUILD_DIR]   -> OUT_DIR/switchboard_<version>_<arch>.deb
# BUILD_DIR (default build-deb) is configured here: RelWithDebInfo, prefix /usr, Debian's
# hardening flags from dpkg-buildflags (stack protector, _FORTIFY_SOURCE, relro, bindnow).
# SB_WERROR=ON in the environment adds -Werror (the CTest test does). Contents:
#   /usr/bin/switchboard, /usr/bin/sbctl (stripped)
#   /usr/lib/<triplet>/libswitchboard.a, pkgconfig/switchboard.pc, /usr/include/switchboard.h
#   /usr/share/man/man1/{switchboard,sbctl}.1.gz, man3/libswitchboard.3.gz
#   /lib/systemd/system/switchboard.service, /usr/lib/sysusers.d/switchboard.conf
#   /etc/switchboard/switchboard.conf, /etc/logrotate.d/switchboard (conffiles), /usr/share/doc/switchboard/{copyright,changelog.gz}
# LINTIAN=0 skips lintian.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
build=${2:-$src/build-deb}
pk=$src/packaging

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)" \
  LDFLAGS=$(dpkg-buildflags --get LDFLAGS) \
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DSB_WERROR="${SB_WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" \
  --target switchboard sbctl switchboard_static switchboard_shared >"$build/deb-build.log" 2>&1 ||
  { grep -v '^\[' "$build/deb-build.log" | tail -40 >&2; echo "build-deb: build failed" >&2; exit 1; }
build=$(cd "$build" && pwd)
version=$("$build/switchboard" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
work=$(mktemp -d "${TMPDIR:-/tmp}/sb-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null
# The package ships the static library only (no shared library: no soname to manage yet).
find "$root" -name 'libswitchboard.so*' -delete
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
  "$root/usr/bin/switchboard" "$root/usr/bin/sbctl"
find "$root/usr/lib" -name '*.a' -exec strip --strip-debug --remove-section=.comment \
  --enable-deterministic-archives {} +
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +

install -D -m 0644 "$pk/switchboard.service" "$root/lib/systemd/system/switchboard.service"
install -D -m 0644 "$pk/sysusers.conf" "$root/usr/lib/sysusers.d/switchboard.conf"
install -D -m 0644 "$pk/switchboard.conf" "$root/etc/switchboard/switchboard.conf"
install -D -m 0644 "$pk/logrotate.conf" "$root/etc/logrotate.d/switchboard"
install -D -m 0644 "$pk/debian/copyright" "$root/usr/share/doc/switchboard/copyright"
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}")
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$date/" "$pk/debian/changelog" |
  gzip -9n >"$root/usr/share/doc/switchboard/changelog.gz"
chmod 0644 "$root/usr/share/doc/switchboard/changelog.gz"

# Library dependencies of the binaries, as dpkg-shlibdeps computes them.
mkdir -p "$work/shlibs/debian"
printf 'Source: switchboard\n\nPackage: switchboard\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/switchboard" "$root/usr/bin/sbctl" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$pk/debian/control.in" >"$root/DEBIAN/control"
install -m 0644 "$pk/debian/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$pk/debian/postinst" "$pk/debian/prerm" "$pk/debian/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +

deb=$out/switchboard_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build-deb: $deb"
if [ "${LINTIAN:-1}" != 0 ]; then
  command -v lintian >/dev/null || { echo "build-deb: lintian missing (scripts/deps.sh deb)" >&2; exit 1; }
  lintian --fail-on error --tag-display-limit 0 "$deb"
fi
