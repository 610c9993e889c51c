#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the quickstart and the test suite: its own
# data directory, a free loopback port, trust auth on loopback only, superuser
# "postgres". As root it runs the server as the `postgres` OS user, because
# initdb/postgres refuse to run as root.
#
#   eval "$(deploy/pg-throwaway.sh start [DIR])"   # exports MOE4_PG_DIR, MOE4_PG_PORT, MOE4_PG_URL
#   deploy/pg-throwaway.sh stop DIR
set -euo pipefail

pg_bin() {
  local b
  for b in /usr/lib/postgresql/*/bin; do [[ -x "$b/initdb" ]] && { echo "$b"; return; }; done
  echo "pg-throwaway: PostgreSQL server binaries not found (deploy/install-deps.sh installs them)" >&2
  exit 1
}

as_owner() {  # run a server command as the cluster's owner
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "pg-throwaway: no free port found" >&2; exit 1
}

cmd=${1:-}
case "$cmd" in
  start)
    bin=$(pg_bin)
    dir=${2:-$(mktemp -d /tmp/moe4-pg.XXXXXX)}
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir" && chmod 700 "$dir"
    port=$(free_port)
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export MOE4_PG_DIR='$dir' MOE4_PG_PORT='$port'"
    echo "export MOE4_PG_URL='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
    ;;
  stop)
    dir=${2:?usage: pg-throwaway.sh stop DIR}
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-throwaway.sh start [DIR] | stop DIR" >&2; exit 2 ;;
esac
