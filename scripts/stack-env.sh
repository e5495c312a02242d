# Sourced by scripts/soak.sh and scripts/chaos.sh (after PY, LOGS and ROOT are set): free
# ports, waiting for a server, and a fresh dedicated database with its broker and addresses.

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {  # wait_port PORT NAME: up to 30 s
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "$2 did not start on port $1; see $LOGS" >&2; exit 1
}

stack_env() {  # stack_env DB_NAME BROKER_DB: a fresh database (migrated), free ports, the env
  DATABASE_URL=$("$PY" -m bench.db "$1" 2>/dev/null) || { echo "could not create the database $1" >&2; exit 1; }
  SANDBOX_PORT=$(free_port)
  WEB_PORT=$(free_port)
  local redis_base
  redis_base=$(grep '^REDIS_URL=' var/local.env | cut -d= -f2-)
  redis_base=${REDIS_URL:-$redis_base}
  export DATABASE_URL DJANGO_SETTINGS_MODULE=bench.soak_settings
  export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT" PUBLIC_BASE_URL="http://127.0.0.1:$WEB_PORT"
  export SOAK_BROKER_URL=${SOAK_BROKER_URL:-${redis_base%/*}/$2}
  flush_broker
  "$PY" manage.py migrate --noinput -v 0 || exit 1
}

flush_broker() { "$PY" -c "import redis, os; redis.Redis.from_url(os.environ['SOAK_BROKER_URL']).flushdb()"; }
