#!/usr/bin/env bash
# moe4ctl submit --dry-run on every shipped example: all validate offline (no
# coordinator, no token), and the coverage report tells biased from unbiased.
set -euo pipefail
ctl=$1 src=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for spec in "$src"/deploy/examples/*.yaml; do
  env -u MOE4_TOKEN "$ctl" submit "$spec" --dry-run >"$out" || { echo "FAIL: $spec does not validate"; cat "$out"; exit 1; }
  grep -q "is valid" "$out" || { echo "FAIL: $spec: no validation line"; exit 1; }
  # Users run these on RTX boxes: the heaviest job must fit a 24 GB card
  # (24,564 MiB as an RTX 3090/4090 reports it), or a fleet of them refuses it.
  need=$(grep -oE 'heaviest job \([^)]*\) needs ~[0-9]+ MiB' "$out" | grep -oE '[0-9]+ MiB' | cut -d' ' -f1)
  [[ -n $need ]] || { echo "FAIL: $spec: no memory estimate in the dry run"; head -3 "$out"; exit 1; }
  ((need <= 24564)) || { echo "FAIL: $spec: heaviest job needs ~$need MiB, more than a 24 GB RTX card"; exit 1; }
  echo "PASS: $(basename "$spec") validates, heaviest job ~$need MiB"
done
"$ctl" submit "$src/deploy/examples/published-bias.yaml" --dry-run >"$out"
grep -qE '^AirNet +1021 +100\.0% .*ANCHOR' "$out" || { echo "FAIL: AirNet not flagged as anchor"; grep AirNet "$out"; exit 1; }
echo "PASS: lexicographic dry run flags AirNet in 100% of candidates"
"$ctl" submit "$src/deploy/examples/stratified-fashion-mnist.yaml" --dry-run >"$out"
grep -q 'anchors 0' "$out" || { echo "FAIL: stratified sample has anchors"; grep coverage "$out"; exit 1; }
grep -qE '^AirNet +40 ' "$out" || { echo "FAIL: stratified: AirNet not in exactly 40 of 290"; grep AirNet "$out"; exit 1; }
echo "PASS: stratified dry run: every family in 40 of 290 candidates, no anchor"
# A bad spec exits 2 with file, line and field.
printf 'name: x\nk: 4\nbudget: 3\nfamilies: [AirNet, AlexNet, BagNet, Resnet, VGG]\n' >"$out.yaml"
set +e; "$ctl" submit "$out.yaml" --dry-run 2>"$out"; code=$?; set -e
rm -f "$out.yaml"
[[ $code -eq 2 ]] || { echo "FAIL: invalid spec exit code $code, want 2"; exit 1; }
grep -q 'line 4: families\[3\]: unknown family "Resnet" (did you mean "ResNet"?)' "$out" || { echo "FAIL: error text"; cat "$out"; exit 1; }
echo "PASS: invalid spec: exit 2, file, line, field and suggestion"
"$ctl" submit "$src/deploy/examples/asha-fashion-mnist.yaml" --dry-run >"$out"
grep -q 'schedule asha: rungs at 1, 3, 9 epochs, reduction factor 3' "$out" \
  || { echo "FAIL: asha dry run does not print its rungs"; head -3 "$out"; exit 1; }
echo "PASS: asha dry run prints its rungs"
