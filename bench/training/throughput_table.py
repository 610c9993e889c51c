#!/usr/bin/python3
"""The side-by-side tables of throughput.sh: reads one work directory per
preset (ours-R.json from throughput_bench, peer-R.json from pytorch_peer.py,
one pair per round R), prints ours/PyTorch per measure with the targets next
to them (printed, not asserted), per family when the run had --per-family, and
optionally writes everything as one JSON object: with one preset the object of
that preset (as before presets existed), with several {"presets": {name: ...}}.

With several rounds each figure is the median over rounds, and each ratio the
median of the per-round ratios (rounds alternate which side runs first).

  /usr/bin/python3 bench/training/throughput_table.py [--json OUT] [--size S] [--seconds N] [NAME=]WORKDIR...
"""

import argparse
import glob
import json
import os
import re
import statistics
import sys

# (key in both JSONs, label, target ours/PyTorch or None)
MEASURES = [
    ("train_step", "training step alone (in-memory batch)", 1.25),
    ("eval", "evaluation, no grad", None),
    ("epoch", "whole epoch incl. data", 2.0),
]


def load_rounds(work):
    rounds = []
    for path in sorted(glob.glob(os.path.join(work, "ours-*.json"))):
        r = re.search(r"ours-(\d+)\.json$", path).group(1)
        peer = os.path.join(work, f"peer-{r}.json")
        if not os.path.exists(peer):
            sys.exit(f"throughput_table: {peer} is missing (round {r} did not finish)")
        with open(path) as f, open(peer) as g:
            rounds.append((json.load(f), json.load(g)))
    if not rounds:
        sys.exit(f"throughput_table: no ours-*.json in {work}")
    return rounds


def blas_name(paths):
    """/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 -> openblas-openmp"""
    names = sorted({os.path.basename(os.path.dirname(p)) for p in paths if "blas" in os.path.basename(p)})
    return ", ".join(names) or "none mapped"


def per_family_rows(rounds):
    """(e) from both sides' per_family, medians over rounds; [] when a side did not measure it."""
    if not all("per_family" in o and "per_family" in q for o, q in rounds):
        return []
    med = statistics.median
    rows = []
    for family in rounds[0][0]["per_family"]["forward_backward_ms"]:
        o = med(r[0]["per_family"]["forward_backward_ms"][family] for r in rounds)
        q = med(r[1]["per_family"]["forward_backward_ms"][family] for r in rounds)
        rows.append({"part": family + " forward + backward", "ours_ms": o, "pytorch_ms": q, "ratio": q / o})
    o = med(r[0]["per_family"]["optimizer_ms"] for r in rounds)
    q = med(r[1]["per_family"]["optimizer_ms"] for r in rounds)
    rows.append({"part": "AdamW step (whole mixture)", "ours_ms": o, "pytorch_ms": q, "ratio": q / o})
    o = med(r[0]["train_step"]["ms_per_step"] for r in rounds)
    q = med(r[1]["train_step"]["ms_per_step"] for r in rounds)
    rows.append({"part": "whole training step", "ours_ms": o, "pytorch_ms": q, "ratio": q / o})
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("work", nargs="+", help="[NAME=]DIR, one per preset")
    p.add_argument("--json")
    p.add_argument("--size", default="", help="the preset's name when WORKDIR has none")
    p.add_argument("--seconds", type=float, default=0)
    a = p.parse_args()
    results = {}
    for arg in a.work:
        name, _, work = arg.rpartition("=")
        results[name or a.size] = table(name or a.size, work)
    if a.seconds:
        print(f"throughput.sh took {a.seconds:.0f} s")
    if a.json:
        if len(results) == 1:
            out = next(iter(results.values()))
        else:
            out = {"bench": "throughput", "presets": results}
        out["seconds"] = a.seconds
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


def table(size, work):
    rounds = load_rounds(work)
    ours0, peer0 = rounds[0]
    med = statistics.median

    rows = []
    for key, label, target in MEASURES:
        o = med(r[0][key]["images_per_second"] for r in rounds)
        q = med(r[1][key]["images_per_second"] for r in rounds)
        ratio = med(r[0][key]["images_per_second"] / r[1][key]["images_per_second"] for r in rounds)
        cpu_ratio = med(r[0][key]["images_per_cpu_second"] / r[1][key]["images_per_cpu_second"] for r in rounds)
        rows.append({"measure": key, "label": label, "ours_images_per_second": o, "pytorch_images_per_second": q,
                     "ratio": ratio, "cpu_time_ratio": cpu_ratio, "target": target, "per_round_ratios":
                     [r[0][key]["images_per_second"] / r[1][key]["images_per_second"] for r in rounds]})
    gflops = {side: {"train_step_gflops": med(r[i]["train_step"]["gflops"] for r in rounds),
                     "gemm_peak_gflops": med(r[i]["gemm"]["gflops"] for r in rounds)}
              for i, side in enumerate(("ours", "pytorch"))}
    for g in gflops.values():
        g["fraction_of_peak"] = g["train_step_gflops"] / g["gemm_peak_gflops"]

    c = ours0["config"]
    print(f"\nMoE4 training throughput{' (' + size + ')' if size else ''}, ours (LibTorch C++, the worker's code) "
          f"vs the PyTorch peer, same run: {len(rounds)} round(s), order alternating"
          f"{', medians' if len(rounds) > 1 else ''}")
    print(f"{' + '.join(c['families'])} + gate, catalogue {c.get('catalogue', 'adapted')}, width {c['width']}, batch {c['batch']} (eval {c['eval_batch']}), "
          f"{'x'.join(map(str, c['input']))}, {c['classes']} classes; parameters {ours0['params']:,} (ours) / "
          f"{peer0['params']:,} (PyTorch)")
    print(f"threads {ours0['machine']['threads']} / {peer0['machine']['threads']}, OMP_NUM_THREADS="
          f"{ours0['machine']['omp_num_threads']}, OMP_WAIT_POLICY={ours0['machine']['omp_wait_policy']}, "
          f"BLAS {blas_name(ours0['machine']['blas'])} / {blas_name(peer0['machine']['blas'])}; "
          f"OPENBLAS_CORETYPE={peer0['machine'].get('openblas_coretype', '(unset)')}; "
          f"DataLoader num_workers={peer0['config']['num_workers']}; "
          f"load average {ours0['machine']['loadavg_before']} at the start\n")
    print(f"{'measure':<40}{'ours img/s':>12}{'PyTorch img/s':>15}{'ours/PyTorch':>14}{'by CPU time':>13}   target")
    for row in rows:
        target = ""
        if row["target"]:
            met = "met" if row["ratio"] >= row["target"] else "MISSED"
            target = f">= {row['target']:.2f}x  {met}"
        print(f"{row['label']:<40}{row['ours_images_per_second']:>12.1f}{row['pytorch_images_per_second']:>15.1f}"
              f"{row['ratio']:>13.2f}x{row['cpu_time_ratio']:>12.2f}x   {target}")
    o = med(r[0]["epoch"]["data_only_images_per_second"] for r in rounds)
    q = med(r[1]["epoch"]["data_only_images_per_second"] for r in rounds)
    print(f"{'  data pipeline alone (no training)':<40}{o:>12.1f}{q:>15.1f}{o / q:>13.2f}x")
    o, q = gflops["ours"], gflops["pytorch"]
    label = "training step GFLOP/s (% of GEMM peak)"
    print(f"{label:<40}{o['train_step_gflops']:>6.1f} ({o['fraction_of_peak']:>3.0%})"
          f"{q['train_step_gflops']:>9.1f} ({q['fraction_of_peak']:>3.0%})")
    print(f"{'GEMM peak GFLOP/s (torch.mm %d^3)' % ours0['gemm']['n']:<40}{o['gemm_peak_gflops']:>12.1f}"
          f"{q['gemm_peak_gflops']:>15.1f}")
    print(f"\nFLOPs: {ours0['flops']['train_per_image'] / 1e9:.3f} GFLOP per image per training step "
          f"({ours0['flops']['source']}; conv/linear hooks count {peer0['flops']['forward_per_image_hooks'] / 1e9:.3f}"
          f" GFLOP forward).")
    print(f"epoch: {ours0['epoch']['train_images']} training images; with the test pass of "
          f"{ours0['epoch']['test_images']} images ours took {ours0['epoch']['epoch_seconds']:.1f} s, PyTorch "
          f"{peer0['epoch']['epoch_seconds']:.1f} s (round 1). Figures from a shared box are provisional; "
          f"the ratios from one run are what count.")
    print("'by CPU time': the same ratio from process CPU seconds (all threads) instead of the wall clock: "
          "less sensitive to a shared box; the epoch's CPU span is model build + epoch + test pass on both sides.")
    families = per_family_rows(rounds)
    if families:
        print(f"\n(e) where a step's time goes (best of the timed steps, median over rounds; PyTorch/ours: "
              f"above 1 ours is faster)")
        print(f"{'part':<40}{'ours ms':>12}{'PyTorch ms':>15}{'PyTorch/ours':>14}")
        for row in families:
            print(f"{row['part']:<40}{row['ours_ms']:>12.1f}{row['pytorch_ms']:>15.1f}{row['ratio']:>13.2f}x")
    return {"bench": "throughput", "size": size, "measures": rows, "per_family": families, "gflops": gflops,
            "rounds": [{"ours": r[0], "pytorch": r[1]} for r in rounds]}


if __name__ == "__main__":
    main()
