#!/usr/bin/env bash
# The search space the system exists for: a campaign over the whole catalogue
# (all 29 families, K=4) with the stratified sampler, trained for real by two
# CPU workers at tiny width on a small synthetic dataset, in one of the two
# catalogues. Asserts every candidate trained and succeeded (so every family
# builds and trains inside a MoE of 4 with three others), every family of the
# pool appears, and the stratified sampler spread them evenly (counts differ
# by at most one).
#   full_catalogue_test.sh COORDINATOR WORKER MOE4CTL SOURCE_DIR [adapted|lemur]
# adapted trains on 32x32 over all 29 families. No single input size feeds
# LEMUR's whole catalogue (its BayesianNet-1 takes only 31..38 pixels, its
# InceptionV3-1 75 and up), so lemur first shows the validator saying so,
# then trains the other 28 families (B=7 x K=4: each exactly once) at the
# smallest size the validator names for them ("set dataset.resize: N or more
# for this pool": the test also proves that advice right), and BayesianNet-1
# in a second campaign at 32x32.
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 src=$4 catalogue=${5:-adapted}
source "$src/tests/e2e/lib.sh"

size=32 budget=8 exclude="[]" families=29
if [[ $catalogue == lemur ]]; then
  probe=$(mktemp)
  printf 'name: probe\nk: 4\nbudget: 8\ncatalogue: lemur\ndataset: {name: "synthetic:channels=3,size=8,classes=4"}\n' >"$probe"
  advice=$("$ctl" submit "$probe" --dry-run 2>&1 || true)
  grep -q 'no single size fits this pool: InceptionV3-1 needs at least 75, BayesianNet-1 at most 38' <<<"$advice" ||
    fail "the validator did not explain why no size fits the whole lemur catalogue:"$'\n'"$advice"
  pass "lemur: the validator says no single input size fits the whole catalogue"
  printf 'name: probe\nk: 4\nbudget: 7\nexclude: [BayesianNet-1]\ncatalogue: lemur\ndataset: {name: "synthetic:channels=3,size=8,classes=4"}\n' >"$probe"
  advice=$("$ctl" submit "$probe" --dry-run 2>&1 || true)
  rm -f "$probe"
  size=$(grep -o 'set dataset.resize: [0-9]* or more for this pool' <<<"$advice" | head -1 | grep -o '[0-9]*')
  [[ -n $size ]] || fail "the validator did not name a size for the lemur pool:"$'\n'"$advice"
  pass "lemur: the validator names ${size}x${size} as the smallest input for the 28 other families"
  budget=7 exclude="[BayesianNet-1]" families=28
fi

e2e_init_db "$src"
e2e_start_coordinator "$coordinator"
e2e_start_worker "$worker" w1
e2e_start_worker "$worker" w2
ctl_cmd=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token")

# No `families:` = the whole catalogue. adapted: B=8 candidates x K=4 = 32
# slots over 29 families: stratified gives each family 1 or 2.
cat >"$e2e_work/spec.yaml" <<YAML
name: e2e-full-catalogue-$catalogue
k: 4
exclude: $exclude
sampler: stratified
budget: $budget
seed: 5
max_attempts: 1
catalogue: $catalogue
dataset: {name: "synthetic:channels=3,size=$size,classes=4", train_subset: 192, test_subset: 64}
recipe: {epochs: 1, batch_size: 32, warmup_epochs: 0, width: 0.125}
YAML

e2e_submit "$e2e_work/spec.yaml" "${ctl_cmd[@]}"
id=$e2e_campaign

pool=$(e2e_sql "SELECT cardinality(pool) FROM campaigns WHERE id = $id")
[[ $pool == "$families" ]] || fail "pool has $pool families, want $families"
stored=$(e2e_sql "SELECT catalogue FROM campaigns WHERE id = $id")
[[ $stored == "$catalogue" ]] || fail "campaign stored catalogue '$stored', want $catalogue"

e2e_wait_done "$ctl" "$id" 780
cat "$e2e_work/status.out"

failed=$(e2e_sql "SELECT coalesce(string_agg(array_to_string(families, '+') || ': ' || coalesce(error, ''), E'\n'), '')
  FROM jobs WHERE campaign_id = $id AND state <> 'succeeded'")
[[ -z $failed ]] || fail "jobs did not succeed:"$'\n'"$failed"
succeeded=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $id AND state = 'succeeded'")
[[ $succeeded == "$budget" ]] || fail "$succeeded of $budget jobs succeeded"
pass "all $budget four-expert ensembles over the $catalogue catalogue trained and succeeded"

missing=$(e2e_sql "SELECT coalesce(string_agg(family, ' '), '') FROM v_coverage WHERE campaign_id = $id AND count = 0")
[[ -z $missing ]] || fail "families never sampled: $missing"
spread=$(e2e_sql "SELECT max(count) - min(count) FROM v_coverage WHERE campaign_id = $id")
[[ $spread -le 1 ]] || fail "stratified coverage uneven: max - min = $spread"
pass "all $families families sampled, counts within 1 of each other"

bad=$(e2e_sql "SELECT count(*) FROM jobs j WHERE j.campaign_id = $id
  AND (SELECT count(*) FROM epochs e WHERE e.job_id = j.id AND e.epoch = 1) <> 1")
[[ $bad == 0 ]] || fail "$bad jobs without exactly one epoch-1 row"
finite=$(e2e_sql "SELECT bool_and(final_test_accuracy BETWEEN 0 AND 1) FROM jobs WHERE campaign_id = $id")
[[ $finite == t ]] || fail "a final accuracy is missing or out of range"
pass "one epoch row per job, accuracies in range"

"${ctl_cmd[@]}" coverage "$id" | tee "$e2e_work/coverage.out"

if [[ $catalogue == lemur ]]; then
  cat >"$e2e_work/bayesian.yaml" <<'YAML'
name: e2e-lemur-bayesian
families: [BayesianNet-1, DPN68]
k: 2
budget: 1
max_attempts: 1
catalogue: lemur
dataset: {name: "synthetic:channels=3,size=32,classes=4", train_subset: 192, test_subset: 64}
recipe: {epochs: 1, batch_size: 32, warmup_epochs: 0, width: 0.125}
YAML
  e2e_submit "$e2e_work/bayesian.yaml" "${ctl_cmd[@]}"
  e2e_wait_done "$ctl" "$e2e_campaign" 300
  state=$(e2e_sql "SELECT state || coalesce(': ' || error, '') FROM jobs WHERE campaign_id = $e2e_campaign")
  [[ $state == succeeded ]] || fail "BayesianNet-1 + DPN68 at 32x32: $state"
  pass "lemur: BayesianNet-1 trained at 32x32, the 29th family"
fi
