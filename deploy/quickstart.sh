#!/usr/bin/env bash
# One command, fresh Debian 12 box to finished campaign: installs what is
# missing, builds, starts a throwaway PostgreSQL, the coordinator and one CPU
# worker, submits deploy/examples/quickstart.yaml (or the spec given), follows
# it until done, prints the leaderboard and how to query the results with
# psql, then stops everything it started (also on Ctrl-C).
#
#   ./deploy/quickstart.sh [SPEC.yaml] [--keep] [--data-root DIR]
#     --keep            leave PostgreSQL running at the end so you can query it
#     --data-root DIR   the worker's --data-root (a folder dataset's home;
#                       docs/spec.md, "Image folders")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
spec=deploy/examples/quickstart.yaml
keep=0
worker_flags=()
while (($#)); do
  case "$1" in
    --keep) keep=1 ;;
    --data-root)
      [[ $# -ge 2 ]] || { echo "quickstart: --data-root needs a directory" >&2; exit 2; }
      worker_flags+=(--data-root "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) spec=$1 ;;
  esac
  shift
done
[[ -f "$spec" ]] || { echo "quickstart: spec $spec not found" >&2; exit 2; }
started=$(date +%s)

deploy/install-deps.sh
deploy/build.sh
bin=$root/build

work=$(mktemp -d /tmp/moe4-quickstart.XXXXXX)
chmod 755 "$work"
pids=()
pg_dir=""
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$pg_dir" && $keep -eq 0 ]]; then deploy/pg-throwaway.sh stop "$pg_dir"; fi
  if [[ $keep -eq 0 ]]; then rm -rf "$work"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'echo; echo "quickstart: interrupted, stopping"; exit 130' INT TERM

# shellcheck source=lib/listen.sh
source deploy/lib/listen.sh

eval "$(deploy/pg-throwaway.sh start "$work/pg")"
pg_dir=$MOE4_PG_DIR
deploy/db-init.sh "$MOE4_PG_URL" moe4 >/dev/null
db_url="host=127.0.0.1 port=$MOE4_PG_PORT user=moe4 dbname=moe4"

# Tokens live in files readable only by us: never on a command line.
umask 077
head -c 24 /dev/urandom | base64 >"$work/admin.token"
head -c 24 /dev/urandom | base64 >"$work/worker.token"
umask 022

# Port 0: the kernel picks free ports as the coordinator binds them.
MOE4_DB_URL=$db_url "$bin/coordinator/moe4-coordinator" --listen "127.0.0.1:0" \
  --http-listen "127.0.0.1:0" --admin-token-file "$work/admin.token" \
  --worker-token-file "$work/worker.token" >"$work/coordinator.log" 2>&1 &
pids+=($!)
port=$(moe4_wait_grpc_port "$work/coordinator.log" "${pids[-1]}") \
  || { echo "quickstart: the coordinator did not start; its log:" >&2; cat "$work/coordinator.log" >&2; exit 1; }
http_port=$(moe4_wait_http_port "$work/coordinator.log" "${pids[-1]}")

"$bin/worker/moe4-worker" --coordinator "127.0.0.1:$port" --token-file "$work/worker.token" \
  --name quickstart-cpu --device cpu --checkpoint-dir "$work/checkpoints" "${worker_flags[@]}" \
  >"$work/worker.log" 2>&1 &
pids+=($!)

ctl=("$bin/ctl/moe4ctl" --coordinator "127.0.0.1:$port" --token-file "$work/admin.token")
echo
echo "quickstart: coordinator on 127.0.0.1:$port (metrics: http://127.0.0.1:$http_port/metrics), worker started; logs in $work"
echo "quickstart: query the results while it runs:  psql \"$db_url\""
echo
"${ctl[@]}" submit "$spec" | tee "$work/submit.out"
id=$(sed -n 's/^submitted campaign \([0-9]*\).*/\1/p' "$work/submit.out")
[[ -n "$id" ]] || { echo "quickstart: submit failed" >&2; exit 1; }

while :; do
  out=$("${ctl[@]}" status "$id")
  line=$(printf '%s\n' "$out" | sed -n 's/^progress //p')
  printf '\r%-100s' "campaign $id: $line"
  if printf '%s\n' "$out" | head -1 | grep -qE ': (done|cancelled),'; then break; fi
  kill -0 "${pids[1]}" 2>/dev/null || { echo; echo "quickstart: the worker died; its log:" >&2; tail -20 "$work/worker.log" >&2; exit 1; }
  sleep 2
done
echo
echo
"${ctl[@]}" status "$id"
echo
"${ctl[@]}" leaderboard "$id"
echo
# Image folders with skip_bad_images: what the worker left out (docs/spec.md).
if skipped=$(grep -o 'dataset .*bad files\? skipped.*' "$work/worker.log" | tail -1) && [[ -n "$skipped" ]]; then
  echo "quickstart: worker: $skipped"
fi
elapsed=$(( $(date +%s) - started ))
echo "quickstart: campaign $id finished; whole run took ${elapsed} s"
echo "quickstart: query the results with:"
echo "  psql \"$db_url\" -c 'SELECT * FROM v_leaderboard WHERE campaign_id = $id'"
if [[ $keep -eq 1 ]]; then
  echo "quickstart: PostgreSQL left running (--keep); stop it with: deploy/pg-throwaway.sh stop $pg_dir"
else
  echo "quickstart: (PostgreSQL is stopped now; rerun with --keep to leave it running for psql)"
fi
