#!/usr/bin/env bash
# The search space the system exists for: a campaign over the whole catalogue
# (all 29 families, K=4) with the stratified sampler, trained for real by two
# CPU workers at tiny width on a small synthetic dataset. Asserts every
# candidate trained and succeeded (so every family builds and trains inside a
# MoE of 4 with three others), every family of the pool appears, and the
# stratified sampler spread them evenly (counts differ by at most one).
#   full_catalogue_test.sh COORDINATOR WORKER MOE4CTL SOURCE_DIR
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 src=$4
source "$src/tests/e2e/lib.sh"

e2e_init_db "$src"
e2e_start_coordinator "$coordinator"
e2e_start_worker "$worker" w1
e2e_start_worker "$worker" w2
ctl_cmd=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token")

# No `families:` = the whole catalogue. B=8 candidates x K=4 = 32 slots over
# 29 families: stratified gives each family 1 or 2.
cat >"$e2e_work/spec.yaml" <<'YAML'
name: e2e-full-catalogue
k: 4
sampler: stratified
budget: 8
seed: 5
max_attempts: 1
dataset: {name: "synthetic:channels=3,size=32,classes=4", train_subset: 192, test_subset: 64}
recipe: {epochs: 1, batch_size: 32, warmup_epochs: 0, width: 0.125}
YAML

e2e_submit "$e2e_work/spec.yaml" "${ctl_cmd[@]}"
id=$e2e_campaign

pool=$(e2e_sql "SELECT cardinality(pool) FROM campaigns WHERE id = $id")
[[ $pool == 29 ]] || fail "pool has $pool families, want the whole catalogue (29)"

e2e_wait_done "$ctl" "$id" 780
cat "$e2e_work/status.out"

failed=$(e2e_sql "SELECT coalesce(string_agg(array_to_string(families, '+') || ': ' || coalesce(error, ''), E'\n'), '')
  FROM jobs WHERE campaign_id = $id AND state <> 'succeeded'")
[[ -z $failed ]] || fail "jobs did not succeed:"$'\n'"$failed"
succeeded=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state = 'succeeded'")
[[ $succeeded == 8 ]] || fail "$succeeded of 8 jobs succeeded"
pass "all 8 four-expert ensembles over the catalogue trained and succeeded"

missing=$(e2e_sql "SELECT coalesce(string_agg(family, ' '), '') FROM v_coverage WHERE campaign_id = $id AND count = 0")
[[ -z $missing ]] || fail "families never sampled: $missing"
spread=$(e2e_sql "SELECT max(count) - min(count) FROM v_coverage WHERE campaign_id = $id")
[[ $spread -le 1 ]] || fail "stratified coverage uneven: max - min = $spread"
pass "all 29 families sampled, counts within 1 of each other"

bad=$(e2e_sql "SELECT count(*) FROM jobs j WHERE j.campaign_id = $id
  AND (SELECT count(*) FROM epochs e WHERE e.job_id = j.id AND e.epoch = 1) <> 1")
[[ $bad == 0 ]] || fail "$bad jobs without exactly one epoch-1 row"
finite=$(e2e_sql "SELECT bool_and(final_test_accuracy BETWEEN 0 AND 1) FROM jobs WHERE campaign_id = $id")
[[ $finite == t ]] || fail "a final accuracy is missing or out of range"
pass "one epoch row per job, accuracies in range"

"${ctl_cmd[@]}" coverage "$id" | tee "$e2e_work/coverage.out"
