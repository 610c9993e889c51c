#!/usr/bin/env bash
# moe4-train with several specs, two at a time (--jobs-per-device 2): every
# spec trains to the end in the one process, its epoch lines arrive in order
# and carry its file, and each ends with its own summary; a bad spec among
# them is refused before anything trains, naming the file; --checkpoint with
# several specs is refused. Usage: train_cli_test.sh MOE4_TRAIN
set -euo pipefail
train=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in 1 2 3; do
  cat >"$dir/spec-$i.yaml" <<YAML
job_id: $i
families: [AlexNet, ResNet]
catalogue: adapted
dataset: {name: "synthetic:channels=1,size=28,classes=10", train_subset: 128, test_subset: 64, validation_fraction: 0}
recipe: {epochs: 2, batch_size: 32, width: 0.125, warmup_epochs: 0, seed: $i}
YAML
done
"$train" --spec "$dir/spec-1.yaml" --spec "$dir/spec-2.yaml" --spec "$dir/spec-3.yaml" --jobs-per-device 2 \
  --threads 1 --log-level warn >"$dir/out.jsonl"
/usr/bin/python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(f"{d}/out.jsonl")]
for i in (1, 2, 3):
    spec = f"{d}/spec-{i}.yaml"
    mine = [l for l in lines if l.get("spec") == spec]
    epochs = [l["epoch"] for l in mine if "epoch" in l]
    summaries = [l for l in mine if "outcome" in l]
    assert epochs == [1, 2], (spec, epochs)
    assert len(summaries) == 1 and summaries[0]["outcome"] == "completed", (spec, summaries)
    assert mine[-1] is summaries[0], "the summary is the spec's last line"
assert all("spec" in l for l in lines), "every line names its spec"
print(f"train_cli_test: {len(lines)} lines, 3 specs completed")
PY
# A spec that does not validate stops everything before training, naming it.
printf 'families: [NoSuchNet]\ndataset: {name: "synthetic:channels=1,size=28,classes=10"}\n' >"$dir/bad.yaml"
if "$train" --spec "$dir/spec-1.yaml" --spec "$dir/bad.yaml" --threads 1 >"$dir/bad.out" 2>"$dir/bad.err"; then
  echo "FAIL: a bad spec was accepted" >&2; exit 1
fi
grep -q "bad.yaml" "$dir/bad.err" || { echo "FAIL: the error does not name the file:"; cat "$dir/bad.err"; exit 1; } >&2
[[ ! -s "$dir/bad.out" ]] || { echo "FAIL: something trained before the bad spec was refused" >&2; exit 1; }
if "$train" --spec "$dir/spec-1.yaml" --spec "$dir/spec-2.yaml" --checkpoint "$dir/c.pt" 2>"$dir/ckpt.err"; then
  echo "FAIL: --checkpoint with two specs was accepted" >&2; exit 1
fi
grep -q -- "--checkpoint" "$dir/ckpt.err" || { echo "FAIL: the error does not name --checkpoint" >&2; exit 1; }
echo "train_cli_test: passed"
