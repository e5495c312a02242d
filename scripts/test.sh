#!/usr/bin/env bash
# `make test`: services, then ruff, import-linter, mypy, a short chaos run and pytest. Exit 0
# only if all pass.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
started=$(scripts/services.sh up | tail -n 1) || exit 1
# shellcheck disable=SC2086
trap '[ -n "$started" ] && scripts/services.sh down $started' EXIT

status=0
.venv/bin/ruff check . || status=1
.venv/bin/lint-imports --config .importlinter || status=1
.venv/bin/mypy || status=1
# The short chaos run (workers killed, Postgres and Redis crashed under API traffic) first:
# it restarts the servers, and pytest's summary stays the last lines. CHAOS_SECONDS=0 skips.
if [ "${CHAOS_SECONDS:-30}" != 0 ]; then
  CHAOS_SECONDS=${CHAOS_SECONDS:-30} CHAOS_EVERY=${CHAOS_EVERY:-6} CHAOS_OUT="$ROOT/var/chaos/results.json" scripts/chaos.sh \
    >"$ROOT/var/chaos-run.log" 2>&1 || { tail -n 60 "$ROOT/var/chaos-run.log"; status=1; }
  tail -n 3 "$ROOT/var/chaos-run.log"
fi
.venv/bin/python -m pytest "$@" || status=1
exit $status
