#!/usr/bin/env bash
# Campaigns on image files end to end: moe4-make-images writes a folder
# dataset (JPEG and PNG, with a truncated JPEG and a text file among them)
# and a TinyImageNet-style layout; a real worker with --data-root decodes,
# caches and trains on them; moe4ctl submits, waits and shows the
# leaderboard. Asserts every job succeeded, learning above chance, the bad
# files skipped and counted per class in the worker's log and in each job's
# metrics on the coordinator (the database, moe4ctl job), the cache file
# written under --data-cache, and the dry-run checks of a folder spec.
#   folder_campaign_test.sh COORDINATOR WORKER MOE4CTL MAKE_IMAGES SOURCE_DIR
set -euo pipefail
coordinator=$1 worker=$2 ctl=$3 make_images=$4 src=$5
source "$src/tests/e2e/lib.sh"

data=$e2e_work/data
"$make_images" --out "$data/stripes" --classes 4 --train 80 --test 20 --size 24 --format mixed --seed 3 >/dev/null
head -c 200 "$data/stripes/train/class0/img0.jpg" >"$data/stripes/train/class0/broken.jpg"
echo "not an image" >"$data/stripes/train/class2/notes.txt"
"$make_images" --layout tinyimagenet --out "$data/tiny" --classes 3 --train 80 --test 20 --size 64 --seed 4 >/dev/null
[[ -f "$data/tiny/wnids.txt" && -f "$data/tiny/val/val_annotations.txt" ]] || fail "no TinyImageNet layout written"

ctl_offline=("$ctl")
cat >"$e2e_work/folder.yaml" <<'YAML'
name: e2e-folder
families: [AirNet, AlexNet, BagNet]
catalogue: adapted
k: 2
budget: 2
seed: 5
dataset: {name: folder, path: stripes, skip_bad_images: true}
recipe: {epochs: 3, batch_size: 32, lr: 0.003, width: 0.25}
YAML
"${ctl_offline[@]}" submit --dry-run "$e2e_work/folder.yaml" >"$e2e_work/dry.out" || fail "dry run refused the folder spec"
grep -q 'is valid' "$e2e_work/dry.out" || fail "dry run: $(cat "$e2e_work/dry.out")"
sed 's/, path: stripes//' "$e2e_work/folder.yaml" >"$e2e_work/nopath.yaml"
set +e
"${ctl_offline[@]}" submit --dry-run "$e2e_work/nopath.yaml" 2>"$e2e_work/nopath.err"
code=$?
set -e
[[ $code -eq 2 ]] && grep -q 'dataset.path: required for a folder dataset' "$e2e_work/nopath.err" \
  || fail "a folder spec without path: exit $code, $(cat "$e2e_work/nopath.err")"
pass "dry run accepts the folder spec and refuses one without a path"

e2e_init_db "$src"
e2e_start_coordinator "$coordinator"
e2e_start_worker "$worker" w1 --data-root "$data" --data-cache "$e2e_work/cache"
ctl_cmd=("$ctl" --coordinator "127.0.0.1:$e2e_port" --token-file "$e2e_work/admin.token")

e2e_submit "$e2e_work/folder.yaml" "${ctl_cmd[@]}"
folder=$e2e_campaign
e2e_wait_done "$ctl" "$folder" 600
succeeded=$(e2e_sql "SELECT count(*) FROM jobs WHERE campaign_id = $folder AND state = 'succeeded'")
[[ $succeeded == 2 ]] || fail "folder campaign: $succeeded of 2 jobs succeeded"
worst=$(e2e_sql "SELECT min(final_test_accuracy) FROM jobs WHERE campaign_id = $folder")
awk -v w="$worst" 'BEGIN { exit !(w >= 0.45) }' || fail "folder: worst final test accuracy $worst < 0.45 (chance 0.25)"
pass "folder campaign: 2 jobs succeeded, worst test accuracy $worst (chance 0.25)"
grep -q '2 bad files skipped: train/class0 1, train/class2 1 (first: train/class2/notes.txt: not an image file' \
  "$e2e_work/worker-w1.log" || fail "the worker did not report the skipped files per class"
ls "$e2e_work/cache"/*.moe4img >/dev/null 2>&1 || fail "no cache file under --data-cache"
[[ -z $(ls "$e2e_work/cache" | grep -v '\.moe4img$' || true) ]] || fail "stray files in the cache: $(ls "$e2e_work/cache")"
pass "bad files skipped and counted per class; decoded images cached under --data-cache"
# The counts reached the coordinator with the epochs: on every job of the
# campaign, and in what moe4ctl shows.
counts=$(e2e_sql "SELECT string_agg(DISTINCT coalesce(skipped_images::text, 'NULL'), ' | ') FROM jobs WHERE campaign_id = $folder")
[[ $counts == '{"train/class0": 1, "train/class2": 1}' ]] || fail "skipped counts stored on the jobs: $counts"
readers=$(e2e_sql "SELECT string_agg(split || '/' || class_name || '=' || files, ',' ORDER BY class_name) || ' x' || count(DISTINCT job_id) FROM v_skipped_images WHERE campaign_id = $folder")
[[ $readers == 'train/class0=1,train/class0=1,train/class2=1,train/class2=1 x2' ]] || fail "v_skipped_images: $readers"
first_job=$(e2e_sql "SELECT min(id) FROM jobs WHERE campaign_id = $folder")
"${ctl_cmd[@]}" job "$first_job" >"$e2e_work/job.out" || fail "moe4ctl job $first_job: $(cat "$e2e_work/job.out")"
grep -q '^skipped 2 bad image files (dataset.skip_bad_images): train/class0 1, train/class2 1$' "$e2e_work/job.out" \
  || fail "moe4ctl job does not show the skipped files: $(cat "$e2e_work/job.out")"
pass "skipped files per class stored on both jobs (jobs.skipped_images, v_skipped_images) and shown by moe4ctl job"
"${ctl_cmd[@]}" leaderboard "$folder" | tee "$e2e_work/leaderboard.out"
[[ $(grep -c ' + ' "$e2e_work/leaderboard.out") == 2 ]] || fail "leaderboard does not list 2 ensembles"

cat >"$e2e_work/tiny.yaml" <<'YAML'
name: e2e-tinyimagenet
families: [AirNet, AlexNet]
catalogue: adapted
k: 2
budget: 1
dataset: {name: tinyimagenet, path: tiny, resize: 32}
recipe: {epochs: 3, batch_size: 32, lr: 0.003, width: 0.25}
YAML
e2e_submit "$e2e_work/tiny.yaml" "${ctl_cmd[@]}"
tiny=$e2e_campaign
e2e_wait_done "$ctl" "$tiny" 600
state=$(e2e_sql "SELECT state FROM jobs WHERE campaign_id = $tiny")
[[ $state == succeeded ]] || fail "tinyimagenet job: $state ($(e2e_sql "SELECT error FROM jobs WHERE campaign_id = $tiny"))"
[[ $(e2e_sql "SELECT skipped_images IS NULL FROM jobs WHERE campaign_id = $tiny") == t ]] \
  || fail "tinyimagenet skipped nothing, yet its job has skipped_images"
accuracy=$(e2e_sql "SELECT final_test_accuracy FROM jobs WHERE campaign_id = $tiny")
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.5) }' || fail "tinyimagenet: test accuracy $accuracy < 0.5 (chance 0.33)"
grep -q 'tinyimagenet .*: decoded 300 images' "$e2e_work/worker-w1.log" \
  || fail "the worker did not decode the 240 training + 60 val images"
"${ctl_cmd[@]}" leaderboard "$tiny" | grep -q 'AirNet + AlexNet' || fail "tinyimagenet leaderboard"
pass "tinyimagenet campaign succeeded (test accuracy $accuracy, chance 0.33)"
