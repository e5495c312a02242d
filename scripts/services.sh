#!/usr/bin/env bash
# Local Postgres and Redis with their data under var/, on ports that do not clash with
# servers already on the defaults. Skipped when DATABASE_URL / REDIS_URL are set.
# Usage: scripts/services.sh up|down|crash
# `up` prints the services it started (one word each) on its last line, for `down`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR="$ROOT/var"
DB_NAME=${SB_DB_NAME:-switchboard}
mkdir -p "$VAR"
LOCAL_ENV="$VAR/local.env"
PORTS_FILE="$VAR/ports.env"  # the ports our servers were given, so later runs find them
# shellcheck disable=SC1090
[ -f "$PORTS_FILE" ] && . "$PORTS_FILE"
PG_PORT=${SB_PG_PORT:-${PG_PORT:-55432}}
REDIS_PORT=${SB_REDIS_PORT:-${REDIS_PORT:-56379}}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # free_port PORT EXPLICIT NAME: PORT, or the next free one unless it was chosen by hand
  local port=$1
  if port_taken "$port"; then
    if [ -n "$2" ]; then
      echo "Port $port is taken by another server; choose another $3 or set its URL." >&2; exit 1
    fi
    for _ in $(seq 50); do port=$((port + 1)); port_taken "$port" || break; done
    echo "Port $1 is taken by another server; using $port." >&2
  fi
  echo "$port"
}

save_ports() { printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" > "$PORTS_FILE"; }

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ]; then echo "$d"; else dirname "$(command -v pg_ctl)"; fi
}

# Postgres refuses to run as root: run it as the postgres user on a directory it owns.
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi

pg_data_dir() {
  local dir="$VAR/pg"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$VAR"; then
    # The postgres user cannot reach this checkout (a private home directory):
    # keep the cluster where it can, one per checkout.
    dir="/var/tmp/switchboard-$(echo -n "$ROOT" | sha1sum | cut -c1-12)/pg"
  fi
  echo "$dir"
}

set_env() {  # set_env KEY VALUE: record a local setting once
  touch "$LOCAL_ENV"
  grep -q "^$1=" "$LOCAL_ENV" || echo "$1=$2" >> "$LOCAL_ENV"
}

put_env() {  # put_env KEY VALUE: record a local setting, replacing an older value
  touch "$LOCAL_ENV"
  grep -v "^$1=" "$LOCAL_ENV" > "$LOCAL_ENV.tmp" || true
  echo "$1=$2" >> "$LOCAL_ENV.tmp"
  mv "$LOCAL_ENV.tmp" "$LOCAL_ENV"
}

secrets() {
  set_env SECRET_KEY "$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
  set_env FERNET_KEYS "$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
  set_env DJANGO_DEBUG "true"
}

pg_up() {
  local bin data
  bin=$(pg_bin); data=$(pg_data_dir)
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$(dirname "$data")"
    "${AS_PG[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if "${AS_PG[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    return 1  # already running: not ours to stop
  fi
  PG_PORT=$(free_port "$PG_PORT" "${SB_PG_PORT:-}" "SB_PG_PORT") || exit 1
  save_ports
  "${AS_PG[@]}" "$bin/pg_ctl" -D "$data" -w -l "$data/server.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" \
    start >/dev/null
  return 0
}

pg_ensure_db() {
  local bin; bin=$(pg_bin)
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$DB_NAME"
  fi
}

APP_ROLE=switchboard_app
app_password() { grep '^DB_APP_PASSWORD=' "$LOCAL_ENV" | cut -d= -f2-; }

pg_ensure_app_role() {  # the migrations create it too (and keep its password in step)
  local bin; bin=$(pg_bin)
  set_env DB_APP_PASSWORD "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$DB_NAME" -v ON_ERROR_STOP=1 -q \
    -v role="$APP_ROLE" -v pw="$(app_password)" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %L', :'role', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SQL
}

redis_up() {
  local dir="$VAR/redis"
  mkdir -p "$dir"
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
    return 1
  fi
  REDIS_PORT=$(free_port "$REDIS_PORT" "${SB_REDIS_PORT:-}" "SB_REDIS_PORT") || exit 1
  save_ports
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save 60 1000 >/dev/null
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "Redis did not start; see $dir/redis.log" >&2; exit 1
}

up() {
  secrets
  local started=()
  if [ -z "${DATABASE_URL:-}" ]; then
    if pg_up; then started+=(postgres); fi
    pg_ensure_db
    pg_ensure_app_role
    # The app connects as the application role (row-level security applies); migrations
    # run as the owner, postgres (config/settings/base.py, docs/security.md).
    put_env DATABASE_URL "postgres://$APP_ROLE:$(app_password)@127.0.0.1:$PG_PORT/$DB_NAME"
    put_env DATABASE_OWNER_USER postgres
  fi
  if [ -z "${REDIS_URL:-}" ]; then
    if redis_up; then started+=(redis); fi
    put_env REDIS_URL "redis://127.0.0.1:$REDIS_PORT/0"
  fi
  echo "${started[*]:-}"
}

down() {
  for svc in "$@"; do
    case "$svc" in
      postgres) "${AS_PG[@]}" "$(pg_bin)/pg_ctl" -D "$(pg_data_dir)" -m fast stop >/dev/null || true ;;
      redis) redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    esac
  done
}

crash() {  # for chaos tests: stop without a clean shutdown (`up` starts them again)
  for svc in "$@"; do
    case "$svc" in
      postgres) "${AS_PG[@]}" "$(pg_bin)/pg_ctl" -D "$(pg_data_dir)" -m immediate stop >/dev/null || true ;;
      redis) redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    esac
  done
}

case "${1:-}" in
  up) up ;;
  down) shift; if [ $# -eq 0 ]; then set -- postgres redis; fi; down "$@" ;;
  crash) shift; crash "$@" ;;
  *) echo "usage: $0 up|down|crash [postgres] [redis]" >&2; exit 2 ;;
esac
