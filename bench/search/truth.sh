#!/usr/bin/env bash
# Ground truth for the search benchmark (issue 16 item 4): every combination
# of a small pool trained to max_epochs once, on the CPU, with moe4-train
# (the worker's training core), one JSON line per epoch. The learning-rate
# schedule spans max_epochs, exactly as under `schedule: {kind: asha}`, so a
# rung's result is a prefix of these curves: simulate.py replays them to
# compare `full` against `asha` without training anything twice.
#
#   bench/search/truth.sh [OUT_DIR]     (default bench-results/search)
#
# Environment: MOE4_BUILD_DIR (default ./build), SEARCH_EPOCHS (9),
# SEARCH_TRAIN (1500 training images; 20 % held out for validation),
# SEARCH_TEST (1000), SEARCH_WIDTH (0.25), SEARCH_THREADS (1), SEARCH_FAMILIES. Resumable:
# combinations already in OUT_DIR/truth/ are skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bench-results/search}
build=${MOE4_BUILD_DIR:-$root/build}
epochs=${SEARCH_EPOCHS:-9} train=${SEARCH_TRAIN:-1500} test=${SEARCH_TEST:-1000}
width=${SEARCH_WIDTH:-0.25} threads=${SEARCH_THREADS:-1}
# Six of the lemur catalogue's families that take 28x28 inputs and train
# quickly on a CPU: C(6,2) = 15 combinations (SEARCH_FAMILIES overrides).
read -r -a families <<<"${SEARCH_FAMILIES:-DPN107 DPN68 Diffuser ICNet MobileNetV3 ShuffleNet}"
mkdir -p "$out/truth"
n=${#families[@]} done=0 total=$(( n * (n - 1) / 2 ))
start=$(date +%s)
for ((i = 0; i < n; ++i)); do
  for ((j = i + 1; j < n; ++j)); do
    a=${families[i]} b=${families[j]}
    file="$out/truth/$a+$b.jsonl"
    done=$((done + 1))
    [[ -s $file ]] && continue
    cat >"$out/truth/$a+$b.yaml" <<YAML
families: [$a, $b]
catalogue: lemur
dataset: {name: fashion-mnist, train_subset: $train, test_subset: $test, validation_fraction: 0.2, split_seed: 16}
recipe: {epochs: $epochs, batch_size: 64, lr: 0.003, width: $width, warmup_epochs: 1, seed: $((1000 + i * n + j))}
YAML
    "$build/worker/moe4-train" --spec "$out/truth/$a+$b.yaml" --threads "$threads" --log-level warn \
      >"$file.tmp"
    mv "$file.tmp" "$file"
    echo "[$done/$total] $a+$b: $(( $(date +%s) - start )) s so far"
  done
done
echo "truth: $total combinations x $epochs epochs in $out/truth"
