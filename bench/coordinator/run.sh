#!/usr/bin/env bash
# Coordinator load benchmark (issue 9, item 1), side by side with its peers in
# one run: for each worker count N, in turn,
#   ours     coordinator_load_bench: the real moe4-coordinator + PostgreSQL
#   Optuna   optuna_peer.py: N processes, ask/report/tell, RDBStorage
#   pgbench  pgbench_ceiling.sh: the server's TPC-B-like write TPS
# all on the same PostgreSQL (each in its own fresh database), then one table.
#
#   bench/coordinator/run.sh [--size small|full] [--json OUT] COORDINATOR_BIN BENCH_BIN
#   e.g. bench/coordinator/run.sh --size small build/coordinator/moe4-coordinator \
#          build/bench/coordinator/coordinator_load_bench
#
# small: N = 1, 8, 3 s windows (about a minute); full: N = 1, 8, 32, 128, 10 s.
# PostgreSQL: $MOE4_PG_URL (a superuser conninfo) when set, else a throwaway
# cluster of deploy/pg-throwaway.sh, stopped on exit. Optuna runs under Debian's
# /usr/bin/python3 (python3-optuna, python3-psycopg2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=/usr/bin/python3

usage() { echo "usage: run.sh [--size small|full] [--json OUT] COORDINATOR_BIN BENCH_BIN" >&2; exit 2; }
size=full json=
while (($#)); do
  case "$1" in
    --size) size=${2:-}; shift 2 || usage ;;
    --json) json=${2:-}; shift 2 || usage ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 2)) || usage
coordinator=$(realpath "$1") bench=$(realpath "$2")
case "$size" in
  small) workers=(1 8) seconds=3 warmup=1 jobs=5000 ;;
  full) workers=(1 8 32 128) seconds=10 warmup=2 jobs=30000 ;;
  *) echo "run.sh: --size must be small or full, got '$size'" >&2; exit 2 ;;
esac
[[ -x $coordinator ]] || { echo "run.sh: coordinator binary $coordinator is not executable" >&2; exit 2; }
[[ -x $bench ]] || { echo "run.sh: benchmark binary $bench is not executable" >&2; exit 2; }
$python -c 'import optuna, psycopg2' 2>/dev/null ||
  { echo "run.sh: $python lacks optuna or psycopg2 (apt-get install python3-optuna python3-psycopg2)" >&2; exit 1; }

work=$(mktemp -d /tmp/moe4-coordbench-run.XXXXXX)
started_pg=
cleanup() {
  [[ -z $started_pg ]] || "$root/deploy/pg-throwaway.sh" stop "$MOE4_PG_DIR"
  rm -rf "$work"
}
trap cleanup EXIT
if [[ -z ${MOE4_PG_URL:-} ]]; then
  eval "$("$root/deploy/pg-throwaway.sh" start)"
  started_pg=1
  echo "run.sh: throwaway PostgreSQL on port $MOE4_PG_PORT" >&2
fi
export MOE4_PG_URL

start=$(date +%s)
ours=() optuna=() pgbench=()
# Interleaved per N, so that all three see the same (shared, busy) machine.
for n in "${workers[@]}"; do
  echo "run.sh: N=$n: ours" >&2
  "$bench" --coordinator "$coordinator" --workers "$n" --seconds "$seconds" --warmup-seconds "$warmup" \
    --jobs "$jobs" --json "$work/ours-$n.json" >"$work/ours-$n.txt"
  ours+=("$work/ours-$n.json")
  echo "run.sh: N=$n: Optuna" >&2
  $python "$here/optuna_peer.py" --workers "$n" --seconds "$seconds" --warmup-seconds "$warmup" \
    --json "$work/optuna-$n.json" >/dev/null
  optuna+=("$work/optuna-$n.json")
  echo "run.sh: N=$n: pgbench" >&2
  "$here/pgbench_ceiling.sh" --workers "$n" --seconds "$seconds" --json "$work/pgbench-$n.json" >/dev/null
  pgbench+=("$work/pgbench-$n.json")
done

$python "$here/report.py" --size "$size" --ours "${ours[@]}" --optuna "${optuna[@]}" --pgbench "${pgbench[@]}" \
  ${json:+--json "$json"}
echo "run.sh: done in $(($(date +%s) - start)) s" >&2
