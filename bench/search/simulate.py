#!/usr/bin/env python3
"""full versus asha at equal compute, replayed on the ground truth (truth.sh).

Every combination of the pool was trained once to max_epochs with the
learning-rate schedule spanning max_epochs, as under `schedule: {kind:
asha}`: a rung's result is then a prefix of that curve, so both schedules can
be replayed here without training anything twice. For each sampler seed and
budget, the combinations are the ones moe4 itself samples (`moe4ctl submit
--dry-run -o json`, the stratified sampler), and

  full  trains each of the B sampled combinations max_epochs and reports the
        one with the best validation accuracy at its selected epoch;
  asha  runs the coordinator's promotion rule (coordinator/scheduler/asha.cc,
        ported below) with W asynchronous workers over rungs min*eta^i .. max,
        promoted jobs first, and reports the leaderboard's first: the highest
        rung reached, then validation accuracy there.

The truth of a combination is what a full campaign ranks it by: the
validation accuracy at the epoch its full run selects (--truth test: the test
accuracy at that epoch, which adds the disagreement between validation and
test splits to the search's own error). Figures:
P(the reported combination is the true best), P(it is among the true top 3),
mean regret (true best minus the reported one's truth, in points) and mean
epochs spent, per budget, over the seeds; then, per success level, the fewest
epochs each schedule needs for it.

  simulate.py OUT_DIR MOE4CTL [--seeds 20] [--workers 2] [--min 1] [--eta 3] [--truth validation|test]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile


def load_truth(directory):
    curves = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jsonl"):
            continue
        epochs = []
        with open(os.path.join(directory, name)) as f:
            for line in f:
                row = json.loads(line)
                if "epoch" in row and "test_accuracy" in row:
                    epochs.append(row)
        epochs.sort(key=lambda r: r["epoch"])
        curves[name[:-len(".jsonl")]] = epochs
    return curves


def selected(epochs, upto):
    """(validation accuracy, test accuracy) at the epoch selected among 1..upto:
    the best validation accuracy, earliest on ties (the coordinator's rule)."""
    best = None
    for row in epochs[:upto]:
        v = row.get("validation_accuracy")
        v = -1.0 if v is None or (isinstance(v, float) and math.isnan(v)) else v
        if best is None or v > best[0]:
            best = (v, row["test_accuracy"])
    return best


def sample(ctl, families, budget, seed, max_epochs):
    spec = (f"name: search-bench\nfamilies: [{', '.join(families)}]\nk: 2\nsampler: stratified\n"
            f"budget: {budget}\nseed: {seed}\ncatalogue: lemur\n"
            f"dataset: {{name: fashion-mnist, train_subset: 1500, validation_fraction: 0.2}}\n"
            f"recipe: {{epochs: {max_epochs}}}\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(spec)
        path = f.name
    try:
        out = subprocess.run([ctl, "submit", path, "--dry-run", "-o", "json"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return ["+".join(c["families"]) for c in json.loads(out)["combinations"]]


def rung_epochs(min_epochs, max_epochs, eta):
    rungs, e = [], min_epochs
    while e < max_epochs:
        rungs.append(e)
        e *= eta
    return rungs + [max_epochs]


def promotion_slots(finished, eta, closed):
    if finished <= 0:
        return 0
    return max(1, finished // eta) if closed else finished // eta


def asha(order, curves, rungs, eta, workers):
    """The coordinator's rule, asynchronously with `workers` workers, one
    epoch = one time unit. Returns (reported combination, epochs spent)."""
    top = len(rungs) - 1
    state = {c: ("pending", 0) for c in order}       # (state, rung)
    results = [dict() for _ in rungs]                # rung -> {combo: metric}
    promoted = [set() for _ in rungs]
    queue = list(order)                              # rung-0 candidates not started
    promoted_queue = []                              # promoted, not started
    running = []                                     # (finish time, combo, rung)
    now, spent = 0, 0

    def decide():
        open_below = 0
        for i in range(len(rungs)):
            training = sum(1 for c, (s, r) in state.items() if r == i and s in ("pending", "running"))
            waiting = [c for c, (s, r) in state.items() if r == i and s == "waiting"]
            closed = open_below == 0 and training == 0
            if i < top:
                ranked = sorted(results[i], key=lambda c: (-results[i][c], order.index(c)))
                for c in ranked[:promotion_slots(len(ranked), eta, closed)]:
                    if c in promoted[i] or state[c] != ("waiting", i):
                        continue
                    promoted[i].add(c)
                    state[c] = ("pending", i + 1)
                    promoted_queue.append(c)
                if closed:
                    for c in waiting:
                        if state[c] == ("waiting", i):
                            state[c] = ("stopped", i)
            waiting_now = sum(1 for c, (s, r) in state.items() if r == i and s == "waiting")
            training_now = sum(1 for c, (s, r) in state.items() if r == i and s in ("pending", "running"))
            open_below += training_now + waiting_now

    while True:
        while len(running) < workers and (promoted_queue or queue):
            c = promoted_queue.pop(0) if promoted_queue else queue.pop(0)
            r = state[c][1]
            start_epoch = rungs[r - 1] if r > 0 else 0
            state[c] = ("running", r)
            running.append((now + rungs[r] - start_epoch, c, r))
            spent += rungs[r] - start_epoch
        if not running:
            break
        running.sort()
        now, c, r = running.pop(0)
        results[r][c] = selected(curves[c], rungs[r])[0]
        state[c] = ("succeeded", r) if r == top else ("waiting", r)
        decide()
    # The leaderboard: highest rung reached, then validation accuracy there.
    best = max(order, key=lambda c: (max(i for i in range(len(rungs)) if c in results[i]),
                                     results[max(i for i in range(len(rungs)) if c in results[i])][c],
                                     -order.index(c)))
    return best, spent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("ctl")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--truth", choices=("validation", "test"), default="validation",
                    help="rank the ground truth by what full training selects on (validation accuracy at "
                         "the selected epoch; default) or by the test accuracy at that epoch")
    args = ap.parse_args()
    curves = load_truth(os.path.join(args.out, "truth"))
    if not curves:
        sys.exit(f"no truth in {args.out}/truth: run bench/search/truth.sh first")
    max_epochs = min(len(c) for c in curves.values())
    column = 0 if args.truth == "validation" else 1
    truth = {c: selected(e, max_epochs)[column] for c, e in curves.items()}
    ranked = sorted(truth, key=lambda c: -truth[c])
    best_value, top3 = truth[ranked[0]], set(ranked[:3])
    families = sorted({f for c in curves for f in c.split("+")})
    rungs = rung_epochs(args.min, max_epochs, args.eta)
    print(f"ground truth: {len(curves)} combinations of {len(families)} families x {max_epochs} epochs; "
          f"true top 3 by {args.truth} accuracy: {', '.join(f'{c} {100 * truth[c]:.1f}%' for c in ranked[:3])}")
    print(f"asha: rungs {rungs}, eta {args.eta}, {args.workers} workers; {args.seeds} sampler seeds\n")

    rows = []
    for budget in range(1, len(curves) + 1):
        full = {"top1": 0, "top3": 0, "regret": 0.0, "epochs": 0}
        ash = {"top1": 0, "top3": 0, "regret": 0.0, "epochs": 0}
        for seed in range(args.seeds):
            order = sample(args.ctl, families, budget, seed, max_epochs)
            found = max(order, key=lambda c: (selected(curves[c], max_epochs)[0], -order.index(c)))
            for stats, (pick, spent) in ((full, (found, budget * max_epochs)),
                                         (ash, asha(order, curves, rungs, args.eta, args.workers))):
                stats["top1"] += pick == ranked[0]
                stats["top3"] += pick in top3
                stats["regret"] += 100 * (best_value - truth[pick])
                stats["epochs"] += spent
        for name, stats in (("full", full), ("asha", ash)):
            rows.append({"schedule": name, "budget": budget,
                         "epochs": stats["epochs"] / args.seeds, "p_top1": stats["top1"] / args.seeds,
                         "p_top3": stats["top3"] / args.seeds, "regret": stats["regret"] / args.seeds})
    print("schedule  budget  epochs  P(top-1)  P(top-3)  regret (points)")
    for r in rows:
        print(f"{r['schedule']:8}  {r['budget']:6}  {r['epochs']:6.1f}  {r['p_top1']:8.2f}  {r['p_top3']:8.2f}  "
              f"{r['regret']:6.2f}")
    print("\nfewest mean epochs to reach a success rate (P(top-3); P(top-1)):")
    summary = []
    for key in ("p_top3", "p_top1"):
        for level in (0.5, 0.8, 0.9, 1.0):
            need = {}
            for name in ("full", "asha"):
                ok = [r["epochs"] for r in rows if r["schedule"] == name and r[key] >= level - 1e-9]
                need[name] = min(ok) if ok else None
            ratio = (need["asha"] / need["full"]) if need["full"] and need["asha"] else None
            summary.append({"metric": key, "level": level, **need, "ratio": ratio})
            fmt = lambda v: "-" if v is None else f"{v:.1f}"
            print(f"  {key} >= {level:.1f}: full {fmt(need['full'])}, asha {fmt(need['asha'])}"
                  + (f", asha/full {ratio:.2f}" if ratio else ""))
    with open(os.path.join(args.out, f"search-{args.truth}.json"), "w") as f:
        json.dump({"truth_metric": args.truth, "truth": truth, "rungs": rungs, "eta": args.eta, "workers": args.workers,
                   "seeds": args.seeds, "rows": rows, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
