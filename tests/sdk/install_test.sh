#!/bin/sh
# Install the sdk component into a temporary DESTDIR with prefix /usr, then build a program
# with `pkg-config --cflags --libs switchboard` (shared and --static) and run both.
set -eu
build=$1 src=$2 cc=$3 extra=${4:-}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR=$dest cmake --install "$build" --prefix /usr --component sdk >/dev/null
pcdir=$(dirname "$(find "$dest" -name switchboard.pc | head -n1)")
test -f "$pcdir/switchboard.pc" || { echo "FAIL: no switchboard.pc installed"; exit 1; }
test -f "$dest/usr/include/switchboard.h" || { echo "FAIL: no header installed"; exit 1; }
test -x "$dest/usr/bin/sbctl" || { echo "FAIL: no sbctl installed"; exit 1; }
ls "$dest"/usr/share/man/man1/sbctl.1 >/dev/null || { echo "FAIL: no man page"; exit 1; }
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest"
cat >"$dest/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <switchboard.h>
int main(void)
{
    struct sb_options o = {0};
    struct sb_client *c = NULL;
    o.url = "http://127.0.0.1:9";
    if (sb_client_new(&o, &c) != 0) { return 1; }
    sb_client_free(c);
    o.url = "ftp://nope";
    if (sb_client_new(&o, &c) != SB_ERR_URL) { return 2; }
    printf("libswitchboard %s ok\n", sb_version());
    return strcmp(sb_version(), SB_VERSION_STRING) != 0;
}
C
# shellcheck disable=SC2046,SC2086
"$cc" $extra -o "$dest/prog" "$dest/prog.c" $(pkg-config --cflags --libs switchboard)
LD_LIBRARY_PATH=$(dirname "$(find "$dest" -name 'libswitchboard.so' | head -n1)") "$dest/prog"
# shellcheck disable=SC2046,SC2086
"$cc" $extra -o "$dest/prog_static" "$dest/prog.c" -static-libgcc $(pkg-config --static --cflags switchboard) \
    "$(find "$dest" -name libswitchboard.a | head -n1)" $(pkg-config --static --libs-only-l --libs-only-other switchboard | sed 's/-lswitchboard//')
"$dest/prog_static"
# Only the API is exported from the shared library.
bad=$(nm -D --defined-only "$(find "$dest" -name 'libswitchboard.so' | head -n1)" | awk '{print $3}' | grep -v '^sb_' || true)
if [ -n "$bad" ]; then echo "FAIL: non-API symbols exported: $bad"; exit 1; fi
# ... and defined globally in the static archive (internal names are local there).
bad=$(nm -g --defined-only "$(find "$dest" -name libswitchboard.a | head -n1)" | awk 'NF == 3 {print $3}' | grep -v '^sb_' || true)
if [ -n "$bad" ]; then echo "FAIL: non-API global symbols in libswitchboard.a: $bad"; exit 1; fi
echo "1 passed, 0 failed"
