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

# shellcheck source=lib/listen.sh
source "$(dirname "$0")/lib/listen.sh"

cmd=${1:-}
case "$cmd" in
  start)
    bin=$(pg_bin)
    dir=${2:-$(mktemp -d /tmp/moe4-pg.XXXXXX)}
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir" && chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # PostgreSQL cannot bind port 0: a port found free can be taken by another
    # process before the server binds it, so try a few.
    for try in 1 2 3 4 5; do
      port=$(moe4_free_port)
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
        && break
      if ((try == 5)) || ! grep -q 'could not bind\|Address already in use' "$dir/server.log"; then
        cat "$dir/server.log" >&2; exit 1
      fi
      echo "pg-throwaway: port $port was taken, trying another" >&2
    done
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
