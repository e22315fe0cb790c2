#!/usr/bin/env bash
# Installs the Debian packages switchboard needs to build and test, only those missing.
# As root it runs apt-get (update once, then install); otherwise it prints the command.
#   scripts/deps.sh        what make build / make test need (clang: the Release build test)
#   scripts/deps.sh deb    also what make deb needs (dpkg-dev, lintian, systemd-analyze)
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang clang-format git
      libuv1-dev libjansson-dev libsqlite3-dev libsodium-dev libinih-dev libssl-dev libpq-dev
      libjemalloc-dev
      postgresql chromium nodejs npm sqlite3 openssl)
if [ "${1:-}" = deb ]; then
  pkgs+=(dpkg-dev lintian systemd)
fi
missing=()
for p in "${pkgs[@]}"; do
  case "$p" in
    nodejs|npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "switchboard needs: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
