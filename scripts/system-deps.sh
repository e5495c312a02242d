#!/usr/bin/env bash
# Installs what the project needs from the OS packages when it is missing:
# PostgreSQL server binaries, Redis, and (for browser tests) Chromium.
# Usage: scripts/system-deps.sh [--browser]
set -euo pipefail

need=()
if ! ls -d /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
  need+=(postgresql)
fi
command -v redis-server >/dev/null || need+=(redis-server)
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "Installing OS packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "Please install these packages as root: ${need[*]}" >&2; exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a cluster on the default port; we run our own under var/.
