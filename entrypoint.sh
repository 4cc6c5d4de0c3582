#!/usr/bin/env bash
# Start aitrader: check the settings, start the four tool servers with the launcher
# (`aitrader mcp`: it waits, bounded, until each answers /health, and restarts one that dies),
# then replace this shell with the API (`exec`), so the API is the process that receives
# SIGTERM and shuts down gracefully.
#
# The launcher runs under `setpriv --pdeathsig TERM`: the kernel sends it SIGTERM when its
# parent ends, and after `exec` its parent is the API. So the tool servers stop with the
# service whether it exits on a signal, on an error or is killed (a `trap` set before `exec`
# would never run); the launcher starts each server the same way. In a container they go
# down with it in any case.
#
# Settings are environment variables (see .env.example). Also read here:
#   AITRADER_LOG_DIR          the tool servers' log files, if set (default: none: they log to
#                             this process's stdout/stderr, beside the API: `docker logs`)
#   AITRADER_STARTUP_TIMEOUT  seconds to wait for the tool servers (default: 60)
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
PYTHON=${PYTHON:-python}
DATA_DIR=${AITRADER_DATA_DIR:-data}
LOG_DIR=${AITRADER_LOG_DIR:-}
RUN_DIR=$DATA_DIR/run
TIMEOUT=${AITRADER_STARTUP_TIMEOUT:-60}
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

# Stale runtime files from an earlier run: pid files and per-model-day runtime files. Never
# the database or its -wal/-shm files: they hold committed work.
rm -rf "$RUN_DIR" "$DATA_DIR/runtime"
mkdir -p "$RUN_DIR" || die "cannot create $RUN_DIR (uid $(id -u))"
LOGS=()
if [ -n "$LOG_DIR" ]; then
  mkdir -p "$LOG_DIR" || die "cannot create $LOG_DIR (uid $(id -u))"
  LOGS=(--log-dir "$LOG_DIR")
fi

# Settings, the default config, the database; the demo market is generated here.
"$PYTHON" -m aitrader prepare || die "not starting: fix the settings named above"

if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q pdeathsig; then
  WITH_PARENT=(setpriv --pdeathsig TERM --)
else
  WITH_PARENT=()
  say "setpriv --pdeathsig is not available: the tool servers will outlive a crashed API"
fi

# The launcher: each server's pid in $RUN_DIR/<name>.pid (its log on stdout/stderr, or in
# $LOG_DIR/<name>.log); $RUN_DIR/tools.ready appears once all four answer /health. It gives up
# by itself after $TIMEOUT seconds, or as soon as one exits during start-up, naming it.
"${WITH_PARENT[@]}" "$PYTHON" -m aitrader mcp "${LOGS[@]}" --pid-dir "$RUN_DIR" \
  --ready-file "$RUN_DIR/tools.ready" --startup-timeout "$TIMEOUT" </dev/null &
LAUNCHER=$!
until [ -e "$RUN_DIR/tools.ready" ]; do
  if ! kill -0 "$LAUNCHER" 2>/dev/null; then
    wait "$LAUNCHER" || true
    die "not starting: the tool servers did not start (see above)"
  fi
  sleep 0.2
done
for name in "${SERVERS[@]}"; do
  say "$name tool server up on port ${PORTS[$name]} (pid $(cat "$RUN_DIR/$name.pid"))"
done

say "starting the API on ${API_HOST:-0.0.0.0}:${API_PORT:-8080}"
exec "$PYTHON" -m aitrader serve
