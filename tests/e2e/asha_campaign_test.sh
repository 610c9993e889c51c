#!/usr/bin/env bash
# An asha campaign (schedule: {kind: asha}) through every part, across two
# coordinators on one database and two CPU workers (one per coordinator):
# every sampled combination trains rung 0 (1 epoch), the coordinators promote
# the top half of each rung (eta 2) to 2 and then 4 epochs and stop the rest.
# Asserts the campaign finishes, every job ends succeeded or stopped at its
# rung, each rung's promotions happened once, a promoted job continued from
# its rung checkpoint on the worker that held it, the epoch audit is clean
# (epochs 1..n stored exactly once, n = the epochs of the highest rung the
# job finished), and moe4ctl status, leaderboard, families and the HTML
# report show the rungs.
#   asha_campaign_test.sh COORDINATOR WORKER MOE4CTL SOURCE_DIR
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 src=$4
source "$src/tests/e2e/lib.sh"

e2e_init_db "$src"
e2e_start_coordinator "$coordinator" --instance-id coord-a
port_a=$e2e_port
# A second coordinator on the same database, on its own port.
log_b=$e2e_work/coordinator-b.log
MOE4_DB_URL=$e2e_db_url "$coordinator" --listen 127.0.0.1:0 --http-listen off --instance-id coord-b \
  --admin-token-file "$e2e_work/admin.token" --worker-token-file "$e2e_work/worker.token" \
  --lease-seconds 20 >"$log_b" 2>&1 &
e2e_pids+=($!)
port_b=$(moe4_wait_grpc_port "$log_b" "${e2e_pids[-1]}") || fail "the second coordinator did not start"
e2e_start_worker "$worker" w1
e2e_port=$port_b e2e_start_worker "$worker" w2
ctl_a=("$ctl" --coordinator "127.0.0.1:$port_a" --token-file "$e2e_work/admin.token")
ctl_b=("$ctl" --coordinator "127.0.0.1:$port_b" --token-file "$e2e_work/admin.token")

cat >"$e2e_work/spec.yaml" <<'YAML'
name: e2e-asha
families: [AirNet, AlexNet, BagNet, ShuffleNet]
catalogue: adapted       # infrastructure test: small, quick experts
k: 2
sampler: stratified
budget: 6
seed: 5
dataset: {name: "synthetic:channels=1,size=28,classes=4", train_subset: 1200, test_subset: 400}
recipe: {batch_size: 32, lr: 0.003, width: 0.25, warmup_epochs: 0}
schedule: {kind: asha, min_epochs: 1, max_epochs: 4, reduction_factor: 2}
YAML

# Bad schedules are refused with the field named.
sed 's/min_epochs: 1, max_epochs: 4/min_epochs: 5, max_epochs: 4/' "$e2e_work/spec.yaml" >"$e2e_work/bad.yaml"
set +e
"${ctl_a[@]}" submit "$e2e_work/bad.yaml" 2>"$e2e_work/bad.err"
code=$?
set -e
[[ $code -eq 2 ]] || fail "invalid schedule: exit code $code, want 2"
grep -q 'schedule.min_epochs: 5 is greater than schedule.max_epochs 4' "$e2e_work/bad.err" \
  || fail "invalid schedule error does not name the field: $(cat "$e2e_work/bad.err")"
pass "min_epochs > max_epochs refused with the field named"

e2e_submit "$e2e_work/spec.yaml" "${ctl_b[@]}"
id=$e2e_campaign
[[ $(e2e_sql "SELECT schedule || ' ' || array_to_string(rung_epochs, ',') FROM campaigns WHERE id = $id") == "asha 1,2,4" ]] \
  || fail "schedule not stored: $(e2e_sql "SELECT schedule, rung_epochs FROM campaigns WHERE id = $id")"

e2e_port=$port_a e2e_wait_done "$ctl" "$id" 600
cat "$e2e_work/status.out"

states=$(e2e_sql "SELECT string_agg(state || '@' || rung, ' ' ORDER BY id) FROM jobs WHERE campaign_id = $id")
echo "job states: $states"
bad=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state NOT IN ('succeeded', 'stopped')")
[[ $bad == 0 ]] || fail "jobs neither succeeded nor stopped: $states"
top=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state = 'succeeded' AND rung = 2")
stopped=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state = 'stopped'")
(( top >= 1 && stopped >= 3 )) || fail "want at least one job through rung 2 and three stopped: $states"
pass "$top job(s) trained to the top rung (4 epochs), $stopped stopped at their rung"

dup=$(e2e_sql "SELECT count(*) FROM (SELECT job_id, detail FROM events WHERE campaign_id = $id
  AND kind = 'job_promoted' GROUP BY 1, 2 HAVING count(*) > 1) d")
promoted=$(e2e_sql "SELECT count(*) FROM rung_results WHERE campaign_id = $id AND promoted_at IS NOT NULL")
events=$(e2e_sql "SELECT count(*) FROM events WHERE campaign_id = $id AND kind = 'job_promoted'")
[[ $dup == 0 && $promoted == "$events" ]] || fail "promotions: $events events for $promoted promoted results, $dup doubled"
for rung in 0 1; do
  n=$(e2e_sql "SELECT count(*) FROM rung_results WHERE campaign_id = $id AND rung = $rung")
  p=$(e2e_sql "SELECT count(*) FROM rung_results WHERE campaign_id = $id AND rung = $rung AND promoted_at IS NOT NULL")
  nxt=$(e2e_sql "SELECT count(*) FROM rung_results WHERE campaign_id = $id AND rung = $((rung + 1))")
  (( p >= n / 2 && p >= 1 && p == nxt )) || fail "rung $rung: $p of $n promoted, $nxt reached rung $((rung + 1))"
done
pass "each rung promoted its top half once ($promoted promotions, two coordinators)"

audit=$(e2e_sql "SELECT count(*) FROM jobs j WHERE j.campaign_id = $id AND (
  (SELECT count(*) FROM epochs e WHERE e.job_id = j.id) <> (SELECT max(epoch) FROM epochs e WHERE e.job_id = j.id)
  OR (SELECT max(epoch) FROM epochs e WHERE e.job_id = j.id) <> (SELECT max(r.epochs) FROM rung_results r WHERE r.job_id = j.id))")
rows=$(e2e_sql "SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id WHERE j.campaign_id = $id")
[[ $audit == 0 ]] || fail "epoch audit: $audit job(s) without exactly epochs 1..n"
pass "epoch audit clean: $rows epoch rows (a full schedule would store 24)"

grep -q "checkpoint kept for a promotion" "$e2e_work"/worker-w*.log || fail "no worker kept a rung checkpoint"
grep -q "resuming from checkpoint" "$e2e_work"/worker-w*.log || fail "no promoted job continued from its checkpoint"
pass "a promoted job continued from its rung checkpoint"

worst=$(e2e_sql "SELECT min(final_test_accuracy) FROM jobs WHERE campaign_id = $id AND state = 'succeeded'")
awk -v w="$worst" 'BEGIN { exit !(w >= 0.6) }' || fail "top-rung final test accuracy $worst < 0.6 (chance 0.25)"
pass "top-rung final test accuracy $worst (chance 0.25)"

"${ctl_a[@]}" status "$id" | tee "$e2e_work/status-a.out"
grep -q 'schedule asha: rungs at 1, 2, 4 epochs' "$e2e_work/status-a.out" || fail "status does not show the schedule"
grep -qE '^RUNG +EPOCHS +ENTERED' "$e2e_work/status-a.out" || fail "status does not show the rungs"
grep -qE '^0 +1 +6 +6 ' "$e2e_work/status-a.out" || fail "status: rung 0 should show 6 entered, 6 finished"
"${ctl_b[@]}" leaderboard "$id" | tee "$e2e_work/leaderboard.out"
grep -qE '^1 +[0-9]+ +[A-Za-z]+ \+ [A-Za-z]+ +2 +4 ' "$e2e_work/leaderboard.out" \
  || fail "leaderboard: first entry is not at rung 2 (4 epochs)"
"${ctl_a[@]}" families "$id" --rung 0 | tee "$e2e_work/families.out"
grep -q 'rung 0 (1 epoch)' "$e2e_work/families.out" || fail "families --rung 0 does not say its rung"
"${ctl_a[@]}" report "$id" --html "$e2e_work/report.html" >/dev/null
grep -q 'id="rungs"' "$e2e_work/report.html" || fail "the HTML report has no rungs table"
grep -q 'id="rung-families"' "$e2e_work/report.html" || fail "the HTML report has no per-rung family table"
pass "moe4ctl status, leaderboard, families and the report show the rungs"
