# Shared settings and helpers of devenv/env/*.sh (sourced, not run).
# shellcheck shell=bash

ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${APPLIANCE_TEST_ENV_DIR:-/var/lib/appliance-test-env}
REGISTRY_ADDR=${APPLIANCE_TEST_REGISTRY_ADDR:-127.0.0.1:5000}
SUITE=bookworm
# Debian's client matches Debian's engine. A newer client on PATH (/usr/local/bin/docker) also
# works by negotiating API 1.41, but warns that its build falls back to the legacy builder.
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
DOCKER_SOCK=/var/run/docker.sock
export DOCKER_HOST=unix://$DOCKER_SOCK
# Registry logins go to the state dir, not to root's ~/.docker.
export DOCKER_CONFIG=$STATE/docker-config
export DOCKER_BUILDKIT=0

LOGS=$STATE/logs
RUN=$STATE/run
CACHE=$STATE/cache
SUMMARY=()

log() { printf '[env %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[env] error: %s\n' "$*" >&2
  exit 1
}
note() {
  SUMMARY+=("$*")
  log "$*"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second until it succeeds.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  log "$what is ready"
}

# daemon_alive NAME: the daemon start_daemon started as NAME still runs (its pid was not
# taken over by another program since).
daemon_alive() {
  [[ -s $RUN/$1.pid && -s $RUN/$1.exe ]] && proc_runs "$(<"$RUN/$1.pid")" "$(<"$RUN/$1.exe")"
}

# proc_runs PID EXE: process PID runs program EXE (a zombie, which this machine's init may
# take a while to reap, does not count).
proc_runs() {
  [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$2" ]]
}

# start_daemon NAME LOGFILE COMMAND...: starts COMMAND in its own session, detached from our
# stdio (a caller waiting on our output must not wait for the daemon), records its pid.
start_daemon() {
  local name=$1 logfile=$2
  shift 2
  readlink -f "$(command -v "$1")" >"$RUN/$name.exe"
  setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  echo $! >"$RUN/$name.pid"
}

# stop_daemon NAME: stops a daemon start_daemon started (TERM, then KILL after 30 s).
stop_daemon() {
  local file=$RUN/$1.pid
  if ! daemon_alive "$1"; then
    rm -f "$file" "$RUN/$1.exe"
    return 0
  fi
  local pid exe
  pid=$(<"$file") exe=$(<"$RUN/$1.exe")
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while proc_runs "$pid" "$exe" && ((SECONDS < deadline)); do sleep 0.2; done
  if proc_runs "$pid" "$exe"; then
    log "$1 did not stop in 30 s, killing it"
    kill -KILL "$pid"
  fi
  rm -f "$file" "$RUN/$1.exe"
  note "stopped $1 (pid $pid)"
}

# file_hashes PATH...: one line per file (name and sha256 of its content, not its times).
file_hashes() {
  local p
  for p in "$@"; do
    if [[ -d $p ]]; then
      (cd "$p" && find . -type f ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    else
      printf '%s  %s\n' "$(sha256sum <"$p" | cut -d' ' -f1)" "$(basename "$p")"
    fi
  done
}

# short_hash: a 16 hex digit hash of stdin.
short_hash() { sha256sum | cut -c1-16; }
