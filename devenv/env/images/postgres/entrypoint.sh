#!/bin/bash
# Entrypoint of appliance-test/postgres:15. On an empty $PGDATA: initdb with POSTGRES_USER
# (default postgres), POSTGRES_PASSWORD (required) and POSTGRES_DB (default: the user), each
# also readable from a file named by *_FILE; runs /docker-entrypoint-initdb.d/*.sql|*.sh once.
# Then runs postgres listening on all addresses (scram-sha-256 over TCP, trust on the local
# socket), and turns SIGTERM into a fast shutdown.
set -Eeuo pipefail

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
if [[ ${1:-} != postgres ]]; then exec "$@"; fi
shift

# file_env VAR [default]: sets VAR from $VAR, or from the file named by $VAR_FILE.
file_env() {
  local var=$1 file_var="$1_FILE" value=${2:-}
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    echo "error: both $var and $file_var are set" >&2
    exit 1
  fi
  if [[ -n ${!var:-} ]]; then
    value=${!var}
  elif [[ -n ${!file_var:-} ]]; then
    value=$(<"${!file_var}")
  fi
  export "$var=$value"
  unset "$file_var"
}

# Secrets files are read before dropping to the postgres user: they may be readable by root only.
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups /bin/bash "$0" postgres "$@"
fi

init_database() {
  if [[ -z $POSTGRES_PASSWORD ]]; then
    echo "error: the database is not initialised and POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is not set" >&2
    exit 1
  fi
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
  printf '%s\n' 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start
  local psql=(psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres)
  if [[ $POSTGRES_DB != postgres ]]; then
    "${psql[@]}" -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sql) echo "running $f" && "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sh) echo "running $f" && bash "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "database initialised"
}

shopt -s nullglob
if [[ ! -s $PGDATA/PG_VERSION ]]; then init_database; fi
unset POSTGRES_PASSWORD

postgres -D "$PGDATA" -c listen_addresses='*' "$@" &
pid=$!
# SIGINT is postgres' fast shutdown: sessions are ended instead of waited for.
trap 'kill -INT "$pid" 2>/dev/null || true' TERM INT
set +e
while :; do
  wait "$pid"
  status=$?
  kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
