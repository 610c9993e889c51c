#!/usr/bin/env bash
# moe4-train on generated image files, no services: a folder dataset with a
# val/ split and a TinyImageNet-style layout, written by moe4-make-images.
# Asserts the runs complete, learn above chance, report skipped files in the
# summary line, and that the second run maps the cache instead of decoding.
#   train_folder_test.sh MOE4_TRAIN MAKE_IMAGES
set -euo pipefail
train=$1 make_images=$2
work=$(mktemp -d /tmp/moe4-train-folder.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$work"/*.log >&2 || true; exit 1; }
pass() { echo "PASS: $*"; }

"$make_images" --out "$work/data/pets" --classes 3 --train 60 --val 10 --test 20 --size 24 --format mixed >/dev/null
printf 'x' >"$work/data/pets/train/class1/empty.png"
"$make_images" --layout tinyimagenet --out "$work/data/tiny" --classes 3 --train 60 --test 20 --size 64 >/dev/null

cat >"$work/folder.yaml" <<'YAML'
families: [AirNet, AlexNet]
catalogue: adapted
dataset: {name: folder, path: pets, skip_bad_images: true}
recipe: {epochs: 3, batch_size: 32, lr: 0.003, warmup_epochs: 0, width: 0.25, seed: 1}
YAML
for run in 1 2; do
  "$train" --spec "$work/folder.yaml" --threads 2 --data-root "$work/data" >"$work/folder$run.json" 2>"$work/folder$run.log" \
    || fail "folder run $run exited $?"
done
grep -q '"outcome":"completed"' "$work/folder1.json" || fail "folder run did not complete"
grep -q '"skipped_images":{"train/class1":1}' "$work/folder1.json" || fail "skipped files not in the summary: $(tail -1 "$work/folder1.json")"
grep -q '30 validation / 60 test images, 3x24x24, 3 classes' "$work/folder1.log" \
  || fail "val/ is not the validation split: $(grep 'dataset folder' "$work/folder1.log")"
grep -q 'decoded 271 images' "$work/folder1.log" || fail "the first run did not decode"
grep -q 'images from the cache' "$work/folder2.log" || fail "the second run did not use the cache"
! grep -q 'decoded' "$work/folder2.log" || fail "the second run decoded again"
accuracy=$(tail -1 "$work/folder1.json" | sed -n 's/.*"final_test_accuracy":\([0-9.e-]*\).*/\1/p')
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.5) }' || fail "folder: test accuracy $accuracy < 0.5 (chance 0.33)"
pass "folder: completed, val/ used, skipped file counted, cache reused, test accuracy $accuracy"

cat >"$work/tiny.yaml" <<'YAML'
families: [AirNet, AlexNet]
catalogue: adapted
dataset: {name: tinyimagenet, path: tiny, resize: 32}
recipe: {epochs: 3, batch_size: 32, lr: 0.003, warmup_epochs: 0, width: 0.25, seed: 1}
YAML
"$train" --spec "$work/tiny.yaml" --threads 2 --data-root "$work/data" >"$work/tiny.json" 2>"$work/tiny.log" \
  || fail "tinyimagenet run exited $?"
grep -q '"outcome":"completed"' "$work/tiny.json" || fail "tinyimagenet run did not complete"
grep -q '3x32x32, 3 classes' "$work/tiny.log" || fail "tinyimagenet not resized to 32: $(grep 'dataset tiny' "$work/tiny.log")"
accuracy=$(tail -1 "$work/tiny.json" | sed -n 's/.*"final_test_accuracy":\([0-9.e-]*\).*/\1/p')
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.5) }' || fail "tinyimagenet: test accuracy $accuracy < 0.5 (chance 0.33)"
pass "tinyimagenet: completed at 32x32, test accuracy $accuracy"
