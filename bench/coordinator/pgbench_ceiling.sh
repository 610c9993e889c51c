#!/usr/bin/env bash
# The ceiling of the coordinator load benchmark (issue 9, item 1): what the
# same PostgreSQL server commits per second with pgbench's default TPC-B-like
# write script (5 statements per transaction), in a fresh database
# (`pgbench -i -s 1`), for each client count N: `pgbench -c N -j min(2,N) -T S`.
# Scale 1 has one `branches` row, which every transaction updates: at large N
# that row lock, not the server, sets the rate (pgbench's standard caveat).
#
#   bench/coordinator/pgbench_ceiling.sh [--workers 1,8,32,128] [--seconds 10] [--json OUT]
#
# The server comes from MOE4_PG_URL (superuser conninfo or URI). Prints the
# figures as JSON on stdout, progress on stderr. Needs pgbench, psql and
# /usr/bin/python3 with psycopg2 (to point the URL at the scratch database).
set -euo pipefail

workers=1,8,32,128 seconds=10 json=
while (($#)); do
  case "$1" in
    --workers) workers=${2:?--workers needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --json) json=${2:?--json needs a value}; shift 2 ;;
    *) echo "usage: pgbench_ceiling.sh [--workers 1,8,32,128] [--seconds S] [--json OUT]" >&2; exit 2 ;;
  esac
done
[[ -n ${MOE4_PG_URL:-} ]] || { echo "pgbench_ceiling: MOE4_PG_URL is not set" >&2; exit 2; }
[[ $workers =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "pgbench_ceiling: --workers: expected e.g. 1,8,32" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || { echo "pgbench_ceiling: --seconds: whole seconds >= 1" >&2; exit 2; }
for tool in pgbench psql; do
  command -v "$tool" >/dev/null || { echo "pgbench_ceiling: $tool not found (Debian: postgresql-client)" >&2; exit 1; }
done

db=moe4_pgbench_$$
# pgbench and psql take a conninfo as their database argument; this one names
# the scratch database whatever form MOE4_PG_URL has.
dsn=$(/usr/bin/python3 -c 'import sys, psycopg2.extensions as e; print(e.make_dsn(sys.argv[1], dbname=sys.argv[2]))' \
  "$MOE4_PG_URL" "$db")
drop_db() {  # quietly: "does not exist, skipping" is the normal case
  PGOPTIONS="-c client_min_messages=warning" psql "$MOE4_PG_URL" -qAtX \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
}
trap drop_db EXIT
drop_db
psql "$MOE4_PG_URL" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
pgbench -i -s 1 -q "$dsn" >/dev/null 2>&1 || { pgbench -i -s 1 -q "$dsn"; exit 1; }

runs=()
IFS=, read -ra counts <<<"$workers"
for n in "${counts[@]}"; do
  threads=$((n < 2 ? n : 2))
  out=$(pgbench -c "$n" -j "$threads" -T "$seconds" "$dsn" 2>&1) || {
    echo "pgbench_ceiling: pgbench -c $n failed:" >&2; echo "$out" >&2; exit 1; }
  tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
  [[ -n $tps ]] || { echo "pgbench_ceiling: no tps line in pgbench's output:" >&2; echo "$out" >&2; exit 1; }
  latency=$(awk '/^latency average = / { print $4; exit }' <<<"$out")
  echo "pgbench_ceiling: N=$n: $tps tps" >&2
  runs+=("{\"workers\": $n, \"seconds\": $seconds, \"tps\": $tps, \"latency_average_ms\": ${latency:-null}}")
done

result="{\"benchmark\": \"pgbench\", \"script\": \"tpcb-like\", \"scale\": 1, \"runs\": [$(IFS=,; echo "${runs[*]}")]}"
echo "$result"
[[ -z $json ]] || echo "$result" >"$json"
