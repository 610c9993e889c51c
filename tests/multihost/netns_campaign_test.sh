#!/usr/bin/env bash
# Several hosts on a private network, made of Linux network namespaces: host
# "db" runs PostgreSQL and the coordinator, hosts "w1" and "w2" one CPU
# worker each, reaching the coordinator over their own veth link (w1 over
# 10.213.1.0/24, w2 over 10.213.2.0/24). Namespaces have their own routing
# tables, so these addresses cannot clash with the machine's; no packet
# leaves the machine.
#
#   1. A small real campaign runs to completion across the hosts (which host
#      trains how many jobs is logged; step 2 proves both train).
#   2. A second campaign; while w1 trains a job, w1's link is cut (its
#      interface goes down: no heartbeat, no report gets through). The lease
#      runs out, the job is requeued and w2 finishes it. Checked in the
#      database: every job succeeded, the cut job's last attempt is w2's and
#      its first ended lease_expired, epochs are exactly 1..E, no lease left.
#   3. w1's link comes back: w1 talks to the coordinator again, whatever it
#      still sends about the lost job is refused (fenced), and the results
#      do not change.
#
# Needs root (CAP_NET_ADMIN) for `ip netns`: as anyone else it fails loudly,
# never skips, because a skipped multi-host test looks like a passing one.
# CI runs as root. Cleans up namespaces, processes and the cluster on every
# exit path; every wait is bounded.
#
#   netns_campaign_test.sh COORDINATOR WORKER MOE4CTL SOURCE_DIR
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 src=$4

fail() { echo "FAIL: $*" >&2; dump_logs; exit 1; }
pass() { echo "PASS: $*"; }
log() { echo "  [$(date +%T)] $*"; }

[[ $(id -u) -eq 0 ]] || { echo "FAIL: the multi-host test needs root for ip netns (CI runs as root)" >&2; exit 1; }
command -v ip >/dev/null || { echo "FAIL: ip (iproute2) is not installed: run deploy/install-deps.sh" >&2; exit 1; }

tag=mh$$
db=$tag-db w1=$tag-w1 w2=$tag-w2
work=$(mktemp -d /tmp/moe4-multihost.XXXXXX)
chmod 755 "$work"
pids=()
pg_dir=""
namespaces=()

dump_logs() {
  for f in "$work"/*.log; do
    [[ -f $f ]] || continue
    echo "---- $(basename "$f") (last 25 lines)" >&2
    tail -25 "$f" >&2
  done
}

cleanup() {
  local code=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n $pg_dir ]]; then ip netns exec "$db" "$src/deploy/pg-throwaway.sh" stop "$pg_dir" >/dev/null 2>&1 || true; fi
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the network --------------------------------------------------------
ip netns add "$db" || fail "ip netns add failed: this test needs CAP_NET_ADMIN"
namespaces+=("$db")
ip netns add "$w1" || fail "ip netns add $w1 failed"
namespaces+=("$w1")
ip netns add "$w2" || fail "ip netns add $w2 failed"
namespaces+=("$w2")
for ns in "$db" "$w1" "$w2"; do ip -n "$ns" link set lo up; done
link() {  # worker_ns subnet_octet
  local ns=$1 n=$2
  ip link add "$tag-a$n" netns "$db" type veth peer name eth0 netns "$ns"
  ip -n "$db" addr add "10.213.$n.1/24" dev "$tag-a$n"
  ip -n "$ns" addr add "10.213.$n.2/24" dev eth0
  ip -n "$db" link set "$tag-a$n" up
  ip -n "$ns" link set eth0 up
}
link "$w1" 1
link "$w2" 2
pass "three hosts: db (10.213.1.1, 10.213.2.1), w1 (10.213.1.2), w2 (10.213.2.2)"

# --- host db: PostgreSQL and the coordinator ----------------------------
on_db() { ip netns exec "$db" "$@"; }
eval "$(on_db "$src/deploy/pg-throwaway.sh" start "$work/pg")"
pg_dir=$MOE4_PG_DIR
on_db "$src/deploy/db-init.sh" "$MOE4_PG_URL" moe4 >/dev/null
admin_url="${MOE4_PG_URL/dbname=postgres/dbname=moe4}"
sql() { on_db psql "$admin_url" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
umask 077
head -c 18 /dev/urandom | base64 >"$work/admin.token"
head -c 18 /dev/urandom | base64 >"$work/worker.token"
umask 022
port=50051
# A short lease, so a cut link is noticed in seconds, not a minute.
MOE4_DB_URL="host=127.0.0.1 port=$MOE4_PG_PORT user=moe4 dbname=moe4" \
  ip netns exec "$db" "$coordinator" --listen "0.0.0.0:$port" --http-listen "" \
  --admin-token-file "$work/admin.token" --worker-token-file "$work/worker.token" \
  --lease-seconds 6 --reaper-interval-ms 500 --retry-backoff-ms 500 --retry-backoff-max-ms 2000 \
  >"$work/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/coordinator.log" && break
  kill -0 "${pids[-1]}" 2>/dev/null || fail "the coordinator exited at start"
  sleep 0.1
done
grep -q "listening on" "$work/coordinator.log" || fail "the coordinator did not listen within 10 s"
# Reachability, with bash's /dev/tcp (no ping on a minimal Debian): each
# worker host reaches the coordinator over its own link and not over the other.
reach() { ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$port" 2>/dev/null; }
reach "$w1" 10.213.1.1 || fail "w1 cannot reach the coordinator over its link"
reach "$w2" 10.213.2.1 || fail "w2 cannot reach the coordinator over its link"
reach "$w1" 10.213.2.1 && fail "w1 reaches w2's link: the hosts are not separate"
pass "w1 and w2 reach the coordinator only over their own links"
ctl_cmd=(ip netns exec "$db" "$ctl" --coordinator "127.0.0.1:$port" --token-file "$work/admin.token")

# --- hosts w1 and w2: one worker each -----------------------------------
start_worker() {  # ns name coordinator_address
  ip netns exec "$1" "$worker" --coordinator "$3:$port" --token-file "$work/worker.token" \
    --name "$2" --device cpu --threads 1 --rpc-timeout-ms 3000 --checkpoint-dir "$work/ckpt-$2" \
    >"$work/worker-$2.log" 2>&1 &
  pids+=($!)
  eval "pid_$2=$!"
}
start_worker "$w1" w1 10.213.1.1
start_worker "$w2" w2 10.213.2.1
for _ in $(seq 1 100); do
  [[ $(sql "SELECT count(*) FROM workers") == 2 ]] && break
  sleep 0.2
done
[[ $(sql "SELECT string_agg(name, ',' ORDER BY name) FROM workers") == "w1,w2" ]] ||
  fail "both workers should have registered over their links"
pass "both workers registered from their own hosts"

submit() {  # name budget epochs train_subset -> campaign id
  cat >"$work/$1.yaml" <<YAML
name: $1
families: [AirNet, AlexNet, BagNet]
catalogue: adapted       # infrastructure test: small, quick experts
k: 2
sampler: stratified
budget: $2
seed: 3
max_attempts: 5
dataset: {name: "synthetic:channels=1,size=28,classes=4", train_subset: $4, test_subset: 200}
recipe: {epochs: $3, batch_size: 32, lr: 0.003, width: 0.25, warmup_epochs: 0}
YAML
  "${ctl_cmd[@]}" submit "$work/$1.yaml" >"$work/$1.submit" || fail "submit $1: $(cat "$work/$1.submit")"
  sed -n 's/^submitted campaign \([0-9]*\).*/\1/p' "$work/$1.submit"
}
wait_done() {  # campaign timeout_s
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    [[ $(sql "SELECT state FROM campaigns WHERE id = $1") == done ]] && return 0
    sleep 1
  done
  sql "SELECT id, families, state, attempt, worker_id FROM jobs WHERE campaign_id = $1" >&2
  fail "campaign $1 not done after $2 s"
}
check_epochs() {  # campaign epochs: every job has exactly epochs 1..E
  local bad
  bad=$(sql "SELECT count(*) FROM jobs j WHERE j.campaign_id = $1 AND (SELECT count(*) || ':' ||
             coalesce(min(epoch), 0) || ':' || coalesce(max(epoch), 0) FROM epochs e WHERE e.job_id = j.id) <> '$2:1:$2'")
  [[ $bad == 0 ]] || fail "campaign $1: $bad job(s) without exactly epochs 1..$2"
}

# --- 1. a campaign across the hosts -------------------------------------
first=$(submit across 3 2 400)
wait_done "$first" 240
[[ $(sql "SELECT count(*) FROM jobs WHERE campaign_id = $first AND state = 'succeeded'") == 3 ]] ||
  fail "campaign 1: not every job succeeded"
check_epochs "$first" 2
log "campaign 1 jobs by worker: $(sql "SELECT string_agg(w.name || '=' || n, ' ') FROM (SELECT worker_id, count(*) n
  FROM jobs WHERE campaign_id = $first GROUP BY worker_id) t JOIN workers w ON w.id = t.worker_id")"
pass "campaign 1: 3/3 jobs succeeded across the hosts, epochs 1..2 each"

# --- 2. cut w1's link while it trains -----------------------------------
epochs=5
second=$(submit cut 2 $epochs 900)
w1_id=$(sql "SELECT id FROM workers WHERE name = 'w1'")
w2_id=$(sql "SELECT id FROM workers WHERE name = 'w2'")
job=""
for _ in $(seq 1 240); do
  job=$(sql "SELECT id FROM jobs WHERE campaign_id = $second AND worker_id = $w1_id
             AND state = 'running' AND coalesce(progress_epoch, 0) >= 1 LIMIT 1")
  [[ -n $job ]] && break
  sleep 0.5
done
[[ -n $job ]] || fail "w1 never got an epoch into a job of campaign 2"
ip -n "$w1" link set eth0 down
cut_at=$SECONDS
log "cut w1's link while it trains job $job (epoch $(sql "SELECT progress_epoch FROM jobs WHERE id = $job") of $epochs reported)"

wait_done "$second" 300
log "campaign 2 done $((SECONDS - cut_at)) s after the cut"
[[ $(sql "SELECT count(*) FROM jobs WHERE campaign_id = $second AND state = 'succeeded'") == 2 ]] ||
  fail "campaign 2: not every job succeeded"
[[ $(sql "SELECT worker_id FROM jobs WHERE id = $job") == "$w2_id" ]] ||
  fail "job $job was not finished by w2 (worker $(sql "SELECT worker_id FROM jobs WHERE id = $job"))"
[[ $(sql "SELECT outcome FROM attempts WHERE job_id = $job AND worker_id = $w1_id ORDER BY attempt LIMIT 1") == lease_expired ]] ||
  fail "w1's attempt at job $job did not end lease_expired: $(sql "SELECT attempt, worker_id, outcome FROM attempts WHERE job_id = $job")"
check_epochs "$second" $epochs
[[ $(sql "SELECT count(*) FROM jobs WHERE lease_deadline IS NOT NULL") == 0 ]] || fail "a lease is left"
pass "w1 cut mid-job: job $job requeued after the lease and finished by w2; epochs 1..$epochs, no lease left"

# --- 3. w1 comes back ----------------------------------------------------
snapshot() { sql "SELECT string_agg(epoch || '/' || attempt || '/' || test_accuracy, ' ' ORDER BY epoch) FROM epochs WHERE job_id = $job"; }
before=$(snapshot)
result_before=$(sql "SELECT state || ' ' || final_test_accuracy || ' ' || worker_id FROM jobs WHERE id = $job")
back_at=$(sql "SELECT now()")
ip -n "$w1" link set eth0 up
for _ in $(seq 1 60); do
  [[ $(sql "SELECT last_seen > '$back_at' FROM workers WHERE id = $w1_id") == t ]] && break
  sleep 0.5
done
[[ $(sql "SELECT last_seen > '$back_at' FROM workers WHERE id = $w1_id") == t ]] ||
  fail "w1 did not talk to the coordinator within 30 s of its link coming back"
kill -0 "$pid_w1" 2>/dev/null || fail "the w1 daemon died"
sleep 3  # let whatever w1 still has about job $job arrive
[[ $(snapshot) == "$before" ]] || fail "w1's late writes changed job $job's epochs: $before -> $(snapshot)"
[[ $(sql "SELECT state || ' ' || final_test_accuracy || ' ' || worker_id FROM jobs WHERE id = $job") == "$result_before" ]] ||
  fail "w1's late writes changed job $job's result"
fenced=$(grep -cE 'fenced [A-Za-z]+ for job' "$work/coordinator.log" || true)
pass "w1 is back and alive; $fenced late write(s) fenced; job $job's results unchanged"
echo "multihost: all checks passed in ${SECONDS} s"
