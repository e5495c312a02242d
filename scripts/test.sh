#!/usr/bin/env bash
# `make test`: services, then pytest, ruff and import-linter. Exit 0 only if all pass.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
started=$(scripts/services.sh up | tail -n 1) || exit 1
# shellcheck disable=SC2086
trap '[ -n "$started" ] && scripts/services.sh down $started' EXIT

status=0
.venv/bin/ruff check . || status=1
.venv/bin/lint-imports --config .importlinter || status=1
.venv/bin/python -m pytest "$@" || status=1
exit $status
