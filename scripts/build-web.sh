#!/usr/bin/env bash
# Builds the web panel (web/src, Preact + htm + realtime-js, bundled by esbuild) into
# web/dist (index.html, app.js, app.css, favicon.svg), which the binary embeds. CMake runs
# this script on every build (target sb_web); `make web` runs it too. A build without the
# panel (web/placeholder) needs -DSB_ALLOW_NO_WEB=ON.
# Installs web/node_modules with `npm ci` (npm registry only) when it is missing or older than
# web/package-lock.json. Skips the bundle when web/dist is newer than every input, so repeated
# `make build` runs do not touch web/dist (and the embedded assets stay byte-identical).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f web/package.json ] || exit 0
command -v node >/dev/null 2>&1 || { echo "build-web: node is required (scripts/deps.sh installs it)" >&2; exit 1; }

cd web
stamp=node_modules/.switchboard-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "build-web: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

if [ -f dist/index.html ] && [ "${FORCE:-0}" != 1 ]; then
  newer=$(find src index.html favicon.svg build.mjs package-lock.json "$stamp" -newer dist/index.html -print -quit)
  [ -z "$newer" ] && exit 0
fi
node build.mjs
echo "build-web: web/dist ($(du -sk dist | cut -f1) KiB)" >&2
