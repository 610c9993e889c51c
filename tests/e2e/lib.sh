# Shared helpers for the end-to-end tests (sourced). Each test gets its own
# database on the throwaway cluster (MOE4_PG_URL), its own ports and work dir,
# and cleans everything up on exit, passing or failing.
set -euo pipefail

: "${MOE4_PG_URL:?MOE4_PG_URL is not set: run the suite with deploy/test.sh, which starts a throwaway PostgreSQL}"

e2e_work=$(mktemp -d /tmp/moe4-e2e.XXXXXX)
chmod 755 "$e2e_work"
e2e_pids=()
e2e_db="moe4_e2e_$$"

fail() { echo "FAIL: $*" >&2; e2e_dump_logs; exit 1; }
pass() { echo "PASS: $*"; }

e2e_dump_logs() {
  for log in "$e2e_work"/*.log; do
    [[ -f "$log" ]] || continue
    echo "---- $(basename "$log") (last 30 lines)" >&2
    tail -30 "$log" >&2
  done
}

e2e_cleanup() {
  local code=$?
  for pid in "${e2e_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${e2e_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql "$MOE4_PG_URL" -qtA -c "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$e2e_work"
  exit "$code"
}
trap e2e_cleanup EXIT

# shellcheck source=../../deploy/lib/listen.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib/listen.sh"

# Creates the database and roles the way an operator would (deploy/db-init.sh)
# and sets e2e_db_url to the coordinator's least-privilege connection.
e2e_init_db() {  # source_dir
  "$1/deploy/db-init.sh" "$MOE4_PG_URL" "$e2e_db" >/dev/null
  e2e_db_url="${MOE4_PG_URL/user=postgres/user=moe4}"
  e2e_db_url="${e2e_db_url/dbname=postgres/dbname=$e2e_db}"
  e2e_admin_db_url="${MOE4_PG_URL/dbname=postgres/dbname=$e2e_db}"
  head -c 18 /dev/urandom | base64 >"$e2e_work/admin.token"
  head -c 18 /dev/urandom | base64 >"$e2e_work/worker.token"
  chmod 600 "$e2e_work"/*.token
}

# Starts a coordinator and sets e2e_port. The first start binds port 0 (the
# kernel picks a free port, no race with other suites); a restart keeps the
# port the workers already know.
e2e_start_coordinator() {  # binary [extra flags...]
  local bin=$1; shift
  local log=$e2e_work/coordinator.log from
  from=$(moe4_log_lines "$log")
  MOE4_DB_URL=$e2e_db_url "$bin" --listen "127.0.0.1:${e2e_port:-0}" --http-listen off \
    --admin-token-file "$e2e_work/admin.token" --worker-token-file "$e2e_work/worker.token" \
    --lease-seconds 20 "$@" >>"$log" 2>&1 &
  e2e_pids+=($!)
  e2e_port=$(moe4_wait_grpc_port "$log" "${e2e_pids[-1]}" "$from") || fail "the coordinator did not start"
}

e2e_start_worker() {  # binary name [extra flags...]
  local bin=$1 name=$2; shift 2
  "$bin" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/worker.token" --name "$name" \
    --device cpu --threads 1 --checkpoint-dir "$e2e_work/ckpt-$name" "$@" >"$e2e_work/worker-$name.log" 2>&1 &
  e2e_pids+=($!)
}

# Submits a spec with the given moe4ctl command line (shown on stdout as it
# runs) and sets e2e_campaign to the new campaign's id.
e2e_submit() {  # spec ctl_command...
  local spec=$1; shift
  "$@" submit "$spec" | tee "$e2e_work/submit.out"
  e2e_campaign=$(sed -n 's/^submitted campaign \([0-9]*\).*/\1/p' "$e2e_work/submit.out")
  [[ -n "$e2e_campaign" ]] || fail "no campaign id in: $(cat "$e2e_work/submit.out")"
}

e2e_sql() { psql "$e2e_admin_db_url" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }

# Polls `moe4ctl status` until the campaign is done or cancelled.
e2e_wait_done() {  # ctl campaign_id timeout_s
  local ctl=$1 id=$2 deadline=$(( $(date +%s) + $3 ))
  while (( $(date +%s) < deadline )); do
    if "$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token" status "$id" \
        >"$e2e_work/status.out" 2>&1 && head -1 "$e2e_work/status.out" | grep -qE ': (done|cancelled),'; then
      return 0
    fi
    sleep 2
  done
  cat "$e2e_work/status.out" >&2
  fail "campaign $id not done after $3 s"
}
