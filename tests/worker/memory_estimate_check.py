#!/usr/bin/env python3
"""The job memory estimate against real training on CPU.

For each configuration, `moe4ctl submit --dry-run --output json` gives the
coordinator's estimate (common/memory_estimate.h) for a campaign of that one
combination, and `moe4-train` trains the same job (one epoch over a few
batches, fp32 on the CPU) in a process of its own, whose peak resident set
(wait4's ru_maxrss) is the measured figure. The first configuration is a
near-empty model: its peak is the process's fixed cost (LibTorch, the data
pipeline), which the estimate's 512 MiB runtime term stands for.

Checks, per configuration:
  * the estimate is not below the measured peak (the refusal must never turn
    away a job that fits, and a job the estimate admits should fit);
  * the estimate is at most MAX_OVER times the measured peak;
  * the model part (peak minus the near-empty run's peak, against the
    estimate minus its 512 MiB) is within a factor MODEL_FACTOR either way.
Prints one line per configuration with the figures (docs/spec.md quotes them).

Usage: memory_estimate_check.py MOE4_TRAIN MOE4CTL
"""
import json
import os
import subprocess
import sys
import tempfile

MAX_OVER = 3.0
MODEL_FACTOR = 2.0
RUNTIME_MB = 512

# (label, catalogue, families, width, batch, size, channels)
CONFIGS = [
    ("near-empty", "adapted", ["ShuffleNet"], 0.125, 2, 28, 1),
    ("adapted ResNet + VGG, batch 64, 32 px", "adapted", ["ResNet", "VGG"], 1.0, 64, 32, 3),
    ("adapted DenseNet + MobileNetV2, batch 64, 32 px", "adapted", ["DenseNet", "MobileNetV2"], 1.0, 64, 32, 3),
    ("lemur FractalNet + SwinTransformer, width 0.5, batch 16, 64 px", "lemur",
     ["FractalNet", "SwinTransformer"], 0.5, 16, 64, 3),
    ("lemur AlexNet + ResNet + ViT, batch 32, 64 px", "lemur", ["AlexNet", "ResNet", "VisionTransformer"], 1.0, 32, 64, 3),
]


def estimate(ctl, d, label, catalogue, families, width, batch, size, channels):
    spec = os.path.join(d, "campaign.yaml")
    with open(spec, "w") as f:
        f.write(f"""name: memcheck
catalogue: {catalogue}
families: [{", ".join(families)}]
k: {len(families)}
budget: 1
dataset: {{name: "synthetic:channels={channels},size={size},classes=10"}}
recipe: {{batch_size: {batch}, width: {width}, precision: fp32}}
requirements: {{device_kind: cpu}}
""")
    out = subprocess.run([ctl, "submit", spec, "--dry-run", "--output", "json"], check=True,
                         capture_output=True, text=True).stdout
    return int(json.loads(out)["memory_estimate_mb"])


def train(moe4_train, d, catalogue, families, width, batch, size, channels):
    spec = os.path.join(d, "job.yaml")
    with open(spec, "w") as f:
        f.write(f"""job_id: 1
families: [{", ".join(families)}]
catalogue: {catalogue}
dataset: {{name: "synthetic:channels={channels},size={size},classes=10", train_subset: {3 * batch}, test_subset: {batch}, validation_fraction: 0}}
recipe: {{epochs: 1, batch_size: {batch}, width: {width}, warmup_epochs: 0, precision: fp32, seed: 1}}
""")
    with open(os.path.join(d, "train.err"), "w") as err:
        p = subprocess.Popen([moe4_train, "--spec", spec, "--threads", "1", "--log-level", "warn"],
                             stdout=subprocess.PIPE, stderr=err, text=True)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
    if status != 0 or '"completed"' not in out:
        sys.exit(f"FAIL: moe4-train did not complete {families}: status {status}\n{out}\n"
                 + open(os.path.join(d, "train.err")).read()[-3000:])
    return usage.ru_maxrss / 1024.0  # KiB -> MiB


def main():
    moe4_train, ctl = sys.argv[1], sys.argv[2]
    failures = []
    base_est = base_peak = None
    with tempfile.TemporaryDirectory() as d:
        for label, catalogue, families, width, batch, size, channels in CONFIGS:
            est = estimate(ctl, d, label, catalogue, families, width, batch, size, channels)
            peak = train(moe4_train, d, catalogue, families, width, batch, size, channels)
            line = f"{label}: estimate {est} MiB, measured peak RSS {peak:.0f} MiB, estimate/measured {est / peak:.2f}"
            if base_est is None:
                base_est, base_peak = est, peak
            else:
                model_est, model_peak = est - RUNTIME_MB, peak - base_peak
                ratio = model_est / model_peak if model_peak > 0 else float("inf")
                line += f"; model part: estimate {model_est} MiB, measured {model_peak:.0f} MiB, ratio {ratio:.2f}"
                if not (1 / MODEL_FACTOR <= ratio <= MODEL_FACTOR):
                    failures.append(f"{label}: model part off by more than x{MODEL_FACTOR} ({ratio:.2f})")
            print(line, flush=True)
            if est < peak:
                failures.append(f"{label}: estimate {est} MiB is below the measured peak {peak:.0f} MiB")
            if est > MAX_OVER * peak:
                failures.append(f"{label}: estimate {est} MiB is more than x{MAX_OVER} the measured peak {peak:.0f} MiB")
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if failures:
        sys.exit(1)
    print("memory_estimate_check: passed")


if __name__ == "__main__":
    main()
