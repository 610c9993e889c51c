#!/usr/bin/env bash
# Dashboard API at scale (issue 18 item 6), side by side with a small peer in
# the same run: two databases on one throwaway PostgreSQL, each a campaign
# submitted through moe4ctl (k=4 over the 29 families) and then filled by
# seed.sql: large = 20,000 combinations x 5 replicates = 100,000 jobs and
# 1,000 workers; small = 200 x 5 = 1,000 jobs and 10 workers; 5 epochs per
# finished job. Then measure.py times every GET endpoint on both coordinators,
# interleaved, the campaign page's six calls, and 500 SSE streams.
#
#   bench/dashboard/run.sh [--json OUT] [BUILD_DIR]     (default ./build)
#
# Builds nothing. Needs Debian's PostgreSQL and /usr/bin/python3 (stdlib only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
json=
[[ ${1:-} == --json ]] && { json=$(realpath -m "$2"); shift 2; }
build=$(realpath "${1:-$root/build}")
coordinator=$build/coordinator/moe4-coordinator ctl=$build/ctl/moe4ctl
[[ -x $coordinator && -x $ctl ]] || { echo "run.sh: build $build lacks moe4-coordinator or moe4ctl" >&2; exit 2; }

work=$(mktemp -d /tmp/moe4-dashbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -z ${MOE4_PG_DIR:-} ]] || "$root/deploy/pg-throwaway.sh" stop "$MOE4_PG_DIR"
  rm -rf "$work"
}
trap cleanup EXIT
eval "$("$root/deploy/pg-throwaway.sh" start)"
echo "run.sh: throwaway PostgreSQL on port $MOE4_PG_PORT" >&2
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/admin.token"
head -c 24 /dev/urandom | base64 | tr -d "/+=" >"$work/worker.token"
head -c 24 /dev/urandom | base64 | tr -d "/+=" >"$work/reader.token"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
url_for() { /usr/bin/python3 -c 'import sys,re; u=sys.argv[1]; print(re.sub(r"dbname=\S+", "dbname="+sys.argv[2], u) if "dbname=" in u else u.rsplit("/",1)[0]+"/"+sys.argv[2])' "$MOE4_PG_URL" "$1"; }

start_coordinator() {  # name -> sets grpc/http/pid
  local db=$1
  grpc=$(free_port) http=$(free_port)
  "$coordinator" --db-url "$(url_for "$db")" --listen "127.0.0.1:$grpc" --ui --http-listen "127.0.0.1:$http" \
    --admin-token-file "$work/admin.token" --reader-token-file "$work/reader.token" --worker-token-file "$work/worker.token" --max-budget 100000 \
    --log-level warn >"$work/$db.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    /usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$http" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "run.sh: coordinator on $db did not start:" >&2; cat "$work/$db.log" >&2; exit 1
}

seed() {  # db budget workers
  local db=$1 budget=$2 workers=$3 t=$SECONDS
  psql -q "$MOE4_PG_URL" -c "CREATE DATABASE $db"
  start_coordinator "$db"
  printf 'name: dash-%s\ncatalogue: adapted\nk: 4\nsampler: uniform\nbudget: %s\nreplicates: 5\nseed: 7\ndataset:\n  name: "synthetic:channels=1,size=28,classes=4"\n  validation_fraction: 0.1\nrecipe:\n  epochs: 5\n' \
    "$db" "$budget" >"$work/$db.yaml"
  "$ctl" --coordinator "127.0.0.1:$grpc" --token-file "$work/admin.token" submit "$work/$db.yaml" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local c; c=$(psql -qtA "$(url_for "$db")" -c "SELECT max(id) FROM campaigns")
  psql -q "$(url_for "$db")" -v campaign="$c" -v workers="$workers" -v epochs=5 -f "$here/seed.sql" >/dev/null
  echo "run.sh: seeded $db in $((SECONDS - t)) s: $(psql -qtA "$(url_for "$db")" -c \
    "SELECT format('%s jobs, %s epochs, %s attempts, %s workers, %s events', (SELECT count(*) FROM jobs), \
     (SELECT count(*) FROM epochs), (SELECT count(*) FROM attempts), (SELECT count(*) FROM workers), (SELECT count(*) FROM events))")" >&2
}

seed dash_large 20000 1000
seed dash_small 200 10
start_coordinator dash_large; large="127.0.0.1:$http:$pid"
# Workers stay "recently seen" while we measure.
psql -q "$(url_for dash_large)" -c "UPDATE workers SET last_seen = now()"
start_coordinator dash_small; small="127.0.0.1:$http:$pid"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
/usr/bin/python3 "$here/measure.py" --large "$large" --small "$small" --token-file "$work/reader.token" ${json:+--json "$json"}
