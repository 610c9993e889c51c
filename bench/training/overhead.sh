#!/usr/bin/env bash
# Scheduling overhead (issue 9, item 3): runs one short real job through the
# real system (PostgreSQL, moe4-coordinator and one moe4-worker on loopback,
# submitted with moe4ctl) and splits the job's wall time, leased -> completed
# as the database records it, into training steps, evaluation, and the rest
# (lease reply, setup, checkpoints, epoch reports, completion). Target
# (printed, not asserted): overhead < 2 % of a job.
#
#   bench/training/overhead.sh [--json OUT] [--spec SPEC.yaml] [--threads N] COORDINATOR WORKER MOE4CTL
#     e.g. bench/training/overhead.sh --json overhead.json build/coordinator/moe4-coordinator \
#            build/worker/moe4-worker build/ctl/moe4ctl
#
# PostgreSQL: $MOE4_PG_URL (a superuser conninfo; a throwaway database is
# created on it and dropped afterwards) or else a throwaway cluster
# (deploy/pg-throwaway.sh). --spec replaces the built-in 1-job campaign; it
# must create one job and set dataset.train_subset. Every process started
# here, and the cluster, is stopped on exit, also on failure or Ctrl-C.
# The arithmetic is in overhead.sql, next to this file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() { sed -n '9,11p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
json_out="" spec="" threads=$(nproc)
while (($#)); do
  case "$1" in
    --json) json_out=${2:?--json needs a file}; shift 2 ;;
    --spec) spec=${2:?--spec needs a file}; shift 2 ;;
    --threads) threads=${2:?--threads needs a count}; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "overhead: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 3)) || usage
coordinator=$1 worker=$2 ctl=$3
for bin in "$coordinator" "$worker" "$ctl"; do
  [[ -x "$bin" ]] || { echo "overhead: $bin is not an executable" >&2; exit 2; }
done
[[ -z "$spec" || -f "$spec" ]] || { echo "overhead: spec $spec not found" >&2; exit 2; }

work=$(mktemp -d /tmp/moe4-overhead.XXXXXX)
chmod 755 "$work"  # the throwaway cluster's owner (postgres, when root) must reach $work/pg
pids=() pg_dir="" db="moe4_overhead_$$" admin_url=""
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$pg_dir" ]]; then
    "$root/deploy/pg-throwaway.sh" stop "$pg_dir"
  elif [[ -n "$admin_url" ]]; then
    psql "$MOE4_PG_URL" -qtAX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if ((code != 0)); then
    for log in "$work"/*.log; do
      [[ -f "$log" ]] && { echo "---- $(basename "$log") (last 20 lines)" >&2; tail -20 "$log" >&2; }
    done
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'echo "overhead: interrupted" >&2; exit 130' INT TERM
die() { echo "overhead: $*" >&2; exit 1; }

# shellcheck source=../../deploy/lib/listen.sh
source "$root/deploy/lib/listen.sh"

# --- PostgreSQL, the coordinator and one worker ------------------------------
if [[ -z "${MOE4_PG_URL:-}" ]]; then
  eval "$("$root/deploy/pg-throwaway.sh" start "$work/pg")"
  pg_dir=$MOE4_PG_DIR
fi
"$root/deploy/db-init.sh" "$MOE4_PG_URL" "$db" >/dev/null
admin_url=${MOE4_PG_URL/dbname=postgres/dbname=$db}
db_url=${admin_url/user=postgres/user=moe4}
sql() { psql "$admin_url" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }

umask 077
head -c 24 /dev/urandom | base64 >"$work/admin.token"
head -c 24 /dev/urandom | base64 >"$work/worker.token"
umask 022

MOE4_DB_URL=$db_url "$coordinator" --listen "127.0.0.1:0" --http-listen "" \
  --admin-token-file "$work/admin.token" --worker-token-file "$work/worker.token" >"$work/coordinator.log" 2>&1 &
pids+=($!)
port=$(moe4_wait_grpc_port "$work/coordinator.log" "${pids[0]}") || die "the coordinator did not start"

# TZ=UTC: overhead.sql reads the log's wall-clock times as UTC.
TZ=UTC "$worker" --coordinator "127.0.0.1:$port" --token-file "$work/worker.token" --name overhead-w1 \
  --device cpu --threads "$threads" --checkpoint-dir "$work/checkpoints" >"$work/worker.log" 2>&1 &
pids+=($!)
# Submit once the worker is registered, so queue wait is not LibTorch loading.
for _ in $(seq 1 600); do
  [[ $(sql "SELECT count(*) FROM workers") == 1 ]] && break
  kill -0 "${pids[1]}" 2>/dev/null || die "the worker exited before registering"
  sleep 0.1
done

# --- the job ------------------------------------------------------------------
if [[ -z "$spec" ]]; then
  # One job, two experts, three epochs of real data: about 50 s of
  # training on 2 cores. 3072 = 48 batches of 64, no short batch.
  spec=$work/spec.yaml
  cat >"$spec" <<'YAML'
name: overhead
families: [AirNet, ShuffleNet]
catalogue: adapted
k: 2
sampler: stratified
budget: 1
seed: 9
dataset: {name: fashion-mnist, train_subset: 3072, test_subset: 512}
recipe: {epochs: 3, batch_size: 64, lr: 0.002, width: 0.25, warmup_epochs: 0}
YAML
fi
ctl_cmd=("$ctl" --coordinator "127.0.0.1:$port" --token-file "$work/admin.token")
"${ctl_cmd[@]}" submit "$spec" >"$work/submit.out" || die "submit failed: $(cat "$work/submit.out")"
campaign=$(sed -n 's/^submitted campaign \([0-9]*\).*/\1/p' "$work/submit.out")
[[ -n "$campaign" ]] || die "no campaign id in: $(cat "$work/submit.out")"
[[ $(sql "SELECT count(*) FROM jobs WHERE campaign_id = $campaign") == 1 ]] || die "the spec must create exactly one job"
job=$(sql "SELECT id FROM jobs WHERE campaign_id = $campaign")
echo "overhead: campaign $campaign, job $job submitted; waiting (logs in $work)"

deadline=$(($(date +%s) + 1800))
until [[ $(sql "SELECT state FROM campaigns WHERE id = $campaign") =~ ^(done|cancelled)$ ]]; do
  (($(date +%s) < deadline)) || die "campaign $campaign not done after 1800 s"
  kill -0 "${pids[1]}" 2>/dev/null || die "the worker died"
  sleep 1
done
[[ $(sql "SELECT state FROM jobs WHERE id = $job") == succeeded ]] \
  || die "job $job did not succeed: $(sql "SELECT state || ': ' || coalesce(error, '') FROM jobs WHERE id = $job")"
attempt=$(sql "SELECT attempt FROM jobs WHERE id = $job")
((attempt == 1)) || echo "overhead: note: job $job took $attempt attempts; only the last one is measured" >&2

# Images per epoch, as the trainer counts them (a lone last image is dropped).
train_images=$(sql "SELECT CASE WHEN s > 1 AND b > 0 AND s % b = 1 THEN s - 1 ELSE s END FROM (
  SELECT (c.dataset->>'train_subset')::bigint AS s, coalesce((c.recipe->>'batch_size')::bigint, 0) AS b
  FROM campaigns c WHERE c.id = $campaign) t")
((train_images > 0)) || die "the spec must set dataset.train_subset (the per-epoch image count)"

# --- the worker's log lines for this attempt -> log_events --------------------
# "[2026-11-24 16:20:00.123] [moe4-worker] [info] job 7 attempt 1: leased ..."
tag="job $job attempt $attempt:"
{
  echo "CREATE TEMP TABLE log_events (kind text, epoch int, at timestamptz);"
  grep -F "] $tag " "$work/worker.log" | sed -nE \
    -e "s/^\[([^]]+)\].* leased .*/INSERT INTO log_events VALUES ('leased', NULL, '\1+00');/p" \
    -e "s/^\[([^]]+)\].* epoch ([0-9]+)\/[0-9]+ train_loss .*/INSERT INTO log_events VALUES ('epoch', \2, '\1+00');/p" \
    -e "s/^\[([^]]+)\].* reported epoch\(s\) ([0-9]+)\.\.([0-9]+)$/INSERT INTO log_events SELECT 'reported', generate_series(\2, \3), '\1+00';/p"
  echo "\\set job_id $job"
  echo "\\set train_images $train_images"
  echo "\\set json_out $work/result.json"
  echo "\\i $here/overhead.sql"
} >"$work/analysis.sql"
grep -q "'leased'" "$work/analysis.sql" || die "no 'leased' line for '$tag' in the worker log"

echo
echo "overhead: job $job ($(sql "SELECT array_to_string(families, ' + ') FROM jobs WHERE id = $job"), \
$(sql "SELECT epochs FROM campaigns WHERE id = $campaign") epochs of $train_images images, $threads threads), \
wall time leased -> completed:"
psql "$admin_url" -qX -v ON_ERROR_STOP=1 -f "$work/analysis.sql"
share=$(sed -nE 's/^ *"overhead_share": ([^,]+),?$/\1/p' "$work/result.json")
awk -v s="$share" 'BEGIN { printf "overhead: %.2f %% of the job (target < 2 %%): %s\n", 100 * s, (s < 0.02 ? "met" : "NOT met") }'
echo "overhead: queue wait before the lease (not in the job): \
$(sed -nE 's/^ *"queue_wait_seconds": ([^,]+),?$/\1/p' "$work/result.json") s"
if [[ -n "$json_out" ]]; then
  cp "$work/result.json" "$json_out"
  echo "overhead: wrote $json_out"
fi
