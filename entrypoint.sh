#!/usr/bin/env bash
# Start aitrader: check the settings, start the four tool servers, wait until each answers
# /health, then replace this shell with the API (`exec`), so the API is the process that
# receives SIGTERM and shuts down gracefully.
#
# The tool servers are started under `setpriv --pdeathsig TERM`: the kernel sends them SIGTERM
# when their parent ends, and after `exec` their parent is the API. So they stop with the
# service whether it exits on a signal, on an error or is killed (a `trap` set before `exec`
# would never run). In a container they go down with it in any case.
#
# Settings are environment variables (see .env.example). Also read here:
#   AITRADER_LOG_DIR          the tool servers' logs (default: logs)
#   AITRADER_STARTUP_TIMEOUT  seconds to wait for the tool servers (default: 60)
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
PYTHON=${PYTHON:-python}
DATA_DIR=${AITRADER_DATA_DIR:-data}
LOG_DIR=${AITRADER_LOG_DIR:-logs}
RUN_DIR=$DATA_DIR/run
TIMEOUT=${AITRADER_STARTUP_TIMEOUT:-60}
MCP_HOST=${AITRADER_MCP_HOST:-127.0.0.1}
SERVERS=(math search trade price)
declare -A PORTS=(
  [math]=${MATH_HTTP_PORT:-8000} [search]=${SEARCH_HTTP_PORT:-8001}
  [trade]=${TRADE_HTTP_PORT:-8002} [price]=${GETPRICE_HTTP_PORT:-8003}
)

say() { printf 'entrypoint: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case $TIMEOUT in '' | *[!0-9]*) die "AITRADER_STARTUP_TIMEOUT must be whole seconds, got '$TIMEOUT'" ;; esac
for name in "${SERVERS[@]}"; do
  case ${PORTS[$name]} in '' | *[!0-9]*) die "the $name tool server's port must be a number, got '${PORTS[$name]}'" ;; esac
done
command -v curl >/dev/null || die "curl is needed to check the tool servers' health"

# Stale runtime files from an earlier run: pid files and per-model-day runtime files. Never
# the database or its -wal/-shm files: they hold committed work.
rm -rf "$RUN_DIR" "$DATA_DIR/runtime"
mkdir -p "$RUN_DIR" "$LOG_DIR" || die "cannot create $RUN_DIR and $LOG_DIR (uid $(id -u))"

# Settings, the default config, the database; the demo market is generated here.
"$PYTHON" -m aitrader prepare || die "not starting: fix the settings named above"

if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q pdeathsig; then
  WITH_PARENT=(setpriv --pdeathsig TERM --)
else
  WITH_PARENT=()
  say "setpriv --pdeathsig is not available: the tool servers will outlive a crashed API"
fi

declare -A PIDS=()
for name in "${SERVERS[@]}"; do
  "${WITH_PARENT[@]}" "$PYTHON" "mcp/${name}_server.py" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
  PIDS[$name]=$!
  echo "${PIDS[$name]}" >"$RUN_DIR/$name.pid"
done

stop_servers() {
  local n
  for n in "${SERVERS[@]}"; do kill "${PIDS[$n]}" 2>/dev/null || true; done
}

# Bounded wait: every server must answer /health before the deadline, and one that exits
# stops the start at once with the end of its log.
deadline=$((SECONDS + TIMEOUT))
for name in "${SERVERS[@]}"; do
  url="http://$MCP_HOST:${PORTS[$name]}/health"
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      stop_servers
      die "the $name tool server exited during start-up (its log: $LOG_DIR/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      stop_servers
      die "the $name tool server did not answer $url within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
  say "$name tool server up on port ${PORTS[$name]} (pid ${PIDS[$name]})"
done

say "starting the API on ${API_HOST:-0.0.0.0}:${API_PORT:-8080}"
exec "$PYTHON" -m aitrader serve
