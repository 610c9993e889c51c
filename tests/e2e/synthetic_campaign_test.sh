#!/usr/bin/env bash
# A real campaign through every part: moe4ctl submits a spec over gRPC, the
# coordinator samples and stores it in PostgreSQL, two CPU workers lease the
# jobs and train real LibTorch ensembles on the synthetic dataset, stream
# per-epoch metrics back, and complete. Asserts every job succeeded once, one
# epoch row per job and epoch, and accuracy far above chance (real learning).
#   synthetic_campaign_test.sh COORDINATOR WORKER MOE4CTL SOURCE_DIR
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 src=$4
source "$src/tests/e2e/lib.sh"

e2e_init_db "$src"
e2e_start_coordinator "$coordinator"
e2e_start_worker "$worker" w1
e2e_start_worker "$worker" w2
ctl_cmd=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token")
grep -q 'http (/healthz, /metrics): disabled' "$e2e_work/coordinator.log" \
  || fail "--http-listen off did not disable the HTTP endpoint"

cat >"$e2e_work/spec.yaml" <<'YAML'
name: e2e-synthetic
families: [AirNet, AlexNet, BagNet]
catalogue: adapted       # infrastructure test: small, quick experts
k: 2
sampler: stratified
budget: 3
seed: 11
dataset: {name: "synthetic:channels=1,size=28,classes=4", train_subset: 1200, test_subset: 400}
recipe: {epochs: 2, batch_size: 32, lr: 0.003, width: 0.25}
YAML

# An invalid spec is refused with the field named, and creates nothing.
sed 's/BagNet]/Resnet]/' "$e2e_work/spec.yaml" >"$e2e_work/bad.yaml"
set +e
"${ctl_cmd[@]}" submit "$e2e_work/bad.yaml" 2>"$e2e_work/bad.err"
code=$?
set -e
[[ $code -eq 2 ]] || fail "invalid spec: exit code $code, want 2"
grep -q 'families\[2\]: unknown family "Resnet" (did you mean "ResNet"?)' "$e2e_work/bad.err" \
  || fail "invalid spec error does not name the field: $(cat "$e2e_work/bad.err")"
[[ $(e2e_sql "SELECT count(*) FROM campaigns") == 0 ]] || fail "an invalid spec created a campaign"
pass "invalid spec refused with the field named, nothing written"

e2e_submit "$e2e_work/spec.yaml" "${ctl_cmd[@]}"
id=$e2e_campaign

e2e_wait_done "$ctl" "$id" 600
cat "$e2e_work/status.out"

jobs=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id")
succeeded=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state = 'succeeded'")
[[ $jobs == 3 && $succeeded == 3 ]] || fail "jobs: $succeeded of $jobs succeeded, want 3 of 3"
pass "all 3 jobs succeeded"

distinct=$(e2e_sql "SELECT count(DISTINCT families) FROM jobs WHERE campaign_id = $id")
[[ $distinct == 3 ]] || fail "combinations are not distinct ($distinct)"

rows=$(e2e_sql "SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id WHERE j.campaign_id = $id")
bad_jobs=$(e2e_sql "SELECT count(*) FROM (SELECT j.id FROM jobs j LEFT JOIN epochs e ON e.job_id = j.id
  WHERE j.campaign_id = $id GROUP BY j.id
  HAVING count(e.epoch) <> 2 OR min(e.epoch) <> 1 OR max(e.epoch) <> 2) t")
[[ $rows == 6 && $bad_jobs == 0 ]] || fail "epoch rows: $rows (want 6), jobs without epochs 1..2: $bad_jobs"
pass "one epoch row per job and epoch (6)"

# Four classes: chance is 25 %. Every ensemble must have learned.
worst=$(e2e_sql "SELECT min(final_test_accuracy) FROM jobs WHERE campaign_id = $id")
awk -v w="$worst" 'BEGIN { exit !(w >= 0.6) }' || fail "worst final test accuracy $worst < 0.6 (chance 0.25)"
pass "worst final test accuracy $worst (chance 0.25)"

metrics_ok=$(e2e_sql "SELECT bool_and(array_length(gate_mean, 1) = 2 AND array_length(routing_share, 1) = 2
  AND epoch_seconds > 0 AND images_per_second > 0 AND lr > 0)
  FROM epochs e JOIN jobs j ON j.id = e.job_id WHERE j.campaign_id = $id")
[[ $metrics_ok == t ]] || fail "epoch metrics incomplete"
pass "per-epoch metrics stored (gate shares, lr, timing)"

"${ctl_cmd[@]}" leaderboard "$id" | tee "$e2e_work/leaderboard.out"
[[ $(grep -c ' + ' "$e2e_work/leaderboard.out") == 3 ]] || fail "leaderboard does not list 3 ensembles"
pass "leaderboard lists the 3 ensembles"
