#!/usr/bin/env bash
# A packager's build, as a test: configure the source tree with CC=$1 in build type $2 into a
# fresh temporary directory, with -Werror (SB_WERROR=ON, so a warning that only -O2/-O3
# shows fails here and not first on a packager's machine), and build the targets given after
# that (default: everything). Bounded by `timeout`; the directory is removed afterwards.
#   release_build.sh clang Release switchboard sbctl
set -euo pipefail
cc=$1
type=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v "$cc" >/dev/null || { echo "release_build: $cc is not installed" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-release-$cc.XXXXXX")
trap 'rm -rf "$dir"' EXIT
targets=()
for t in "$@"; do targets+=(--target "$t"); done
CC=$cc timeout 600 cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DSB_WERROR=ON >"$dir.log" 2>&1 ||
  { cat "$dir.log" >&2; rm -f "$dir.log"; exit 1; }
rm -f "$dir.log"
grep -q "CMAKE_C_COMPILER:.*$cc" "$dir/CMakeCache.txt" || { echo "release_build: not built with $cc" >&2; exit 1; }
if ! timeout 1500 cmake --build "$dir" -j"${SB_BUILD_JOBS:-2}" "${targets[@]}" >"$dir/build.log" 2>&1; then
  grep -v '^\[' "$dir/build.log" | tail -60 >&2
  echo "release_build: $cc $type build failed" >&2
  exit 1
fi
# The server came out and runs; it embeds the real panel, not the placeholder page.
if [ -x "$dir/switchboard" ]; then
  "$dir/switchboard" --version
  if grep -aq "has not been built into this binary" "$dir/switchboard"; then
    echo "release_build: the binary embeds the placeholder page" >&2
    exit 1
  fi
fi
echo "release_build: $cc $type ok"
