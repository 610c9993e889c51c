#!/usr/bin/env python3
"""The measurements of bench/gpu/run.sh (issue 13, item 4), run and reported.

Standard library only: it drives throughput_bench, moe4-train and
bench/training/pytorch_peer.py as subprocesses, each under its own timeout and
under a budget for the whole run, records every result or failure as it comes
(results.json is rewritten after each measurement, so a run killed from outside
still leaves what it had), and writes results.md (the tables) at the end.

(a) Training step, hetero4 (AirNet + AlexNet + BagNet + DenseNet + gate):
    lemur catalogue at 64x64 (LEMUR's networks as published; its AlexNet needs
    63 px or more) and adapted catalogue at 32x32 (the small-input designs:
    LEMUR's AlexNet cannot run at 32), batch 32 and 128, fp32 and bf16, ours
    (throughput_bench --step-only) against the PyTorch peer (pytorch_peer.py
    --step-only --expect: the same parameter counts or it refuses) in the same
    run, the order alternating; images/s and peak memory.
(b) Candidates per hour: Fashion-MNIST-shaped candidates (synthetic data, one
    channel, 28x28 resized to 32x32, 10 classes), each a mixture of two or
    three of the four families, trained by one moe4-train process with
    --jobs-per-device N = 1, 2, 4, 8 (the mechanism of `moe4-worker
    --jobs-per-device N`: N jobs at once, each on its own thread and CUDA
    stream, one CUDA context), against the peer training the same candidates
    one job at a time in one process.

Targets (benchmark, not test; printed, never asserted): training step >= 1.5x
the peer at the same precision; candidates per hour >= 3x the peer's.
"""

import argparse
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(ROOT, "bench", "training", "pytorch_peer.py")
FAMILIES = ["AirNet", "AlexNet", "BagNet", "DenseNet"]
STEP_TARGET, CANDIDATE_TARGET = 1.5, 3.0

# Full settings for a GPU; --quick: the same code paths at sizes a 2-core CPU finishes in minutes.
FULL = {
    "step_setups": [("lemur", 64), ("adapted", 32)],
    "step_width": 1.0, "batches": [32, 128], "precisions": ["fp32", "bf16"],
    "step_warmup": 5, "steps": 20, "step_timeout": 150,
    "cand_width": 0.5, "cand_count": 8, "cand_epochs": 1, "cand_train": 12288, "cand_test": 2048,
    "cand_batch": 128, "jobs": [1, 8, 4, 2], "cand_timeout": 240,
}
QUICK = {
    "step_setups": [("lemur", 64), ("adapted", 32)],
    "step_width": 0.125, "batches": [8], "precisions": ["fp32", "bf16"],
    "step_warmup": 1, "steps": 1, "step_timeout": 300,
    "cand_width": 0.125, "cand_count": 2, "cand_epochs": 1, "cand_train": 64, "cand_test": 64,
    "cand_batch": 32, "jobs": [1, 2], "cand_timeout": 300,
}


def candidates(count):
    """`count` candidates: the pairs, then the triples, of the four families (in the jobs' byte order)."""
    pool = [list(c) for k in (2, 3) for c in itertools.combinations(FAMILIES, k)]
    return pool[:count]


class Run:
    """One bench run: its settings, its clock and budget, and everything recorded so far."""

    def __init__(self, a):
        self.a = a
        self.cfg = dict(QUICK if a.quick else FULL)
        self.start = time.monotonic()
        self.out = a.out
        self.results = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device": a.device, "quick": a.quick,
                        "budget_s": a.budget_s, "settings": self.cfg, "env": {}, "step": [], "candidates": [],
                        "notes": []}
        self.results["settings"] = {k: v for k, v in self.cfg.items()}
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)

    def elapsed(self):
        return time.monotonic() - self.start

    def left(self):
        return self.a.budget_s - self.elapsed()

    def save(self):
        self.results["elapsed_s"] = round(self.elapsed(), 1)
        tmp = os.path.join(self.out, "results.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.results, f, indent=2)
        os.replace(tmp, os.path.join(self.out, "results.json"))

    def log(self, msg):
        print(f"gpu_bench [{self.elapsed():6.1f} s] {msg}", file=sys.stderr, flush=True)

    def execute(self, name, argv, timeout, env=None):
        """Runs argv with stdout/stderr into logs/NAME.{out,err}; returns (rc, seconds, stdout, error)."""
        timeout = max(5.0, min(timeout, self.left()))
        out_path = os.path.join(self.out, "logs", name + ".out")
        err_path = os.path.join(self.out, "logs", name + ".err")
        with open(os.path.join(self.out, "logs", name + ".cmd"), "w") as f:
            f.write(" ".join(shlex.quote(x) for x in argv) + "\n")
        start = time.monotonic()
        try:
            with open(out_path, "w") as out, open(err_path, "w") as err:
                p = subprocess.run(argv, stdout=out, stderr=err, timeout=timeout, env=env, cwd=ROOT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        except OSError as e:
            with open(err_path, "a") as err:
                err.write(f"cannot run: {e}\n")
            rc = "oserror"
        seconds = time.monotonic() - start
        with open(out_path) as f:
            stdout = f.read()
        error = None
        if rc != 0:
            error = f"exit {rc} after {seconds:.1f} s (limit {timeout:.0f} s): " + tail(err_path)
        return rc, seconds, stdout, error


def tail(path, lines=6):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(l.strip() for l in f.readlines()[-lines:] if l.strip())
    except OSError:
        return ""


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


OURS_LIB_PATH = ""  # --ours-lib-path: prepended to LD_LIBRARY_PATH for our binaries only


def thread_env(threads, ours=False):
    env = dict(os.environ)
    if ours and OURS_LIB_PATH:
        env["LD_LIBRARY_PATH"] = OURS_LIB_PATH + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the worker's (worker/train/omp_env.h)
    return env


# ---- environment ------------------------------------------------------------------------


def environment(run):
    a = run.a
    env = {"host": platform.node(), "cores": os.cpu_count(), "python": a.python, "bench": a.bench, "train": a.train,
           "build": a.build_note}
    try:
        env["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        env["nvidia_smi"] = f"unavailable: {e}"
    probe = ("import json, torch; d = {'torch': torch.__version__, 'cuda': torch.version.cuda, "
             "'cuda_available': torch.cuda.is_available()}\n"
             "if torch.cuda.is_available(): d['device_name'] = torch.cuda.get_device_name(0)\n"
             "try:\n import torchvision; d['torchvision'] = torchvision.__version__\n"
             "except ImportError: d['torchvision'] = None\n"
             "try:\n import numpy; d['numpy'] = numpy.__version__\nexcept ImportError: d['numpy'] = None\n"
             "print(json.dumps(d))")
    try:
        p = subprocess.run([a.python, "-c", probe], capture_output=True, text=True, timeout=120)
        env["peer_python"] = json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr[-500:]}
    except (OSError, subprocess.TimeoutExpired, ValueError) as e:
        env["peer_python"] = {"error": str(e)}
    run.results["env"] = env
    run.save()


# ---- (a) training step ---------------------------------------------------------------------


def step_flags(cfg, catalogue, size, batch):
    return ["--catalogue", catalogue, "--image-size", str(size), "--width", str(cfg["step_width"]),
            "--batch", str(batch), "--warmup-steps", str(cfg["step_warmup"]), "--steps", str(cfg["steps"])]


def measure_steps(run):
    a, cfg = run.a, run.cfg
    threads = a.threads
    order = 0
    for catalogue, size in cfg["step_setups"]:
        tag = f"{catalogue}{size}"
        describe = os.path.join(run.out, "logs", f"describe-{tag}.json")
        have_describe = False
        if a.bench:
            rc, _, stdout, error = run.execute(f"describe-{tag}", [a.bench, "--describe"] + step_flags(
                cfg, catalogue, size, 32), 120, thread_env(threads, ours=True))
            if rc == 0:
                with open(describe, "w") as f:
                    f.write(stdout)
                have_describe = True
            else:
                run.results["notes"].append(f"{tag}: throughput_bench --describe failed: {error}")
        for batch in cfg["batches"]:
            for precision in cfg["precisions"]:
                row = {"catalogue": catalogue, "image_size": size, "width": cfg["step_width"], "batch": batch,
                       "precision": precision}
                sides = [("ours", a.bench), ("peer", a.python)]
                if order % 2:
                    sides.reverse()  # alternate who goes first
                order += 1
                for side, exe in sides:
                    name = f"step-{tag}-b{batch}-{precision}-{side}"
                    if run.left() < 10:
                        row[side] = {"error": "skipped: the run's time budget is spent"}
                        continue
                    if not exe:
                        row[side] = {"error": "skipped: no binary (see env.build)"}
                        continue
                    js = os.path.join(run.out, "logs", name + ".json")
                    flags = step_flags(cfg, catalogue, size, batch) + ["--device", a.device, "--precision", precision,
                                                                       "--step-only", "--threads", str(threads),
                                                                       "--json", js]
                    if side == "ours":
                        argv = [a.bench] + flags
                    else:
                        argv = [a.python, PEER] + flags + (["--expect", describe] if have_describe else [])
                    run.log(f"(a) {name}")
                    rc, seconds, _, error = run.execute(name, argv, cfg["step_timeout"],
                                                        thread_env(threads, ours=side == "ours"))
                    doc = load_json(js) if rc == 0 else None
                    if doc is None:
                        row[side] = {"error": error or "no JSON written", "seconds": round(seconds, 1)}
                        if side == "peer" and rc == 3:
                            row[side]["error"] = "the peer is not the same network (parameter counts): " + error
                    else:
                        ts = doc["train_step"]
                        row[side] = {"images_per_second": ts["images_per_second"], "ms_per_step": ts["ms_per_step"],
                                     "peak_memory_bytes": ts.get("peak_memory_bytes"),
                                     "peak_memory_kind": ts.get("peak_memory_kind"), "params": doc.get("params"),
                                     "process_seconds": round(seconds, 1), "precision_ran": doc["config"].get(
                                         "precision"), "device_name": doc["machine"].get("device_name")}
                        for k in ("skipped_steps", "loss_scale"):
                            if k in ts:
                                row[side][k] = ts[k]
                ours, peer = row.get("ours", {}), row.get("peer", {})
                if "images_per_second" in ours and "images_per_second" in peer:
                    row["ratio"] = ours["images_per_second"] / peer["images_per_second"]
                    row["target_met"] = row["ratio"] >= STEP_TARGET
                run.results["step"].append(row)
                run.save()


# ---- (b) candidates per hour ------------------------------------------------------------------


def write_specs(run, precision):
    cfg = run.cfg
    spec_dir = os.path.join(run.out, "specs")
    os.makedirs(spec_dir, exist_ok=True)
    paths = []
    for i, families in enumerate(candidates(cfg["cand_count"])):
        path = os.path.join(spec_dir, f"candidate-{i}.yaml")
        with open(path, "w") as f:
            f.write(f"# bench/gpu (b): a Fashion-MNIST-shaped candidate on synthetic data\n"
                    f"job_id: {i + 1}\n"
                    f"families: [{', '.join(families)}]\n"
                    f"catalogue: adapted\n"
                    f"dataset: {{name: \"synthetic:channels=1,size=28,classes=10\", resize: 32, "
                    f"train_subset: {cfg['cand_train']}, test_subset: {cfg['cand_test']}, validation_fraction: 0}}\n"
                    f"recipe: {{epochs: {cfg['cand_epochs']}, batch_size: {cfg['cand_batch']}, "
                    f"width: {cfg['cand_width']}, warmup_epochs: 0, precision: {precision}}}\n")
        paths.append((families, path))
    with open(os.path.join(spec_dir, "candidates.json"), "w") as f:
        json.dump([fam for fam, _ in paths], f)
    return paths


def run_jobs_per_device(run, specs, jobs, threads, timeout):
    """One moe4-train over every spec, `jobs` at a time (--jobs-per-device); returns (wall seconds, per-candidate rows)."""
    a = run.a
    name = f"cand-ours-j{jobs}"
    argv = [a.train, "--jobs-per-device", str(jobs), "--device", a.device, "--threads", str(threads),
            "--log-level", "warn"]
    for _, path in specs:
        argv += ["--spec", path]
    rc, seconds, stdout, error = run.execute(name, argv, timeout, thread_env(threads, ours=True))
    by_spec = {}
    for line in (stdout or "").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        by_spec.setdefault(doc.get("spec", specs[0][1] if len(specs) == 1 else None), []).append(doc)
    rows = []
    for i, (families, path) in enumerate(specs):
        summary, epochs = None, []
        for doc in by_spec.get(path, []):
            if "outcome" in doc:
                summary = doc
            else:
                epochs.append(doc)
        row = {"index": i, "families": families}
        if summary and summary.get("outcome") == "completed":
            row.update(train_seconds=summary.get("train_seconds"),
                       test_accuracy=summary.get("final_test_accuracy"),
                       peak_memory_bytes=max((e.get("peak_memory_bytes", 0) for e in epochs), default=None),
                       images_per_second=epochs[-1].get("images_per_second") if epochs else None)
        else:
            row["error"] = (summary or {}).get("reason") or error or f"exit {rc}"
        rows.append(row)
    return seconds, rows


def measure_candidates(run):
    a, cfg = run.a, run.cfg
    precision = a.cand_precision
    specs = write_specs(run, precision)
    peer_entry = None
    for jobs in cfg["jobs"]:
        for side in (["ours", "peer"] if jobs == 1 else ["ours"]):
            label = f"moe4-train --jobs-per-device {jobs}" if side == "ours" else "PyTorch, one job at a time"
            entry = {"side": side, "jobs": jobs, "label": label, "candidates": len(specs), "precision": precision}
            if run.left() < 15:
                entry["error"] = "skipped: the run's time budget is spent"
            elif side == "ours" and not a.train:
                entry["error"] = "skipped: no moe4-train binary (see env.build)"
            elif side == "ours":
                threads = max(1, a.threads // jobs)
                entry["threads_per_job"] = threads
                run.log(f"(b) moe4-train, {len(specs)} candidates, {jobs} at a time, {threads} threads each")
                wall, rows = run_jobs_per_device(run, specs, jobs, threads, cfg["cand_timeout"])
                done = [r for r in rows if "error" not in r]
                entry.update(wall_seconds=round(wall, 2), completed=len(done), runs=rows)
                if done:
                    entry["candidates_per_hour"] = 3600 * len(done) / wall
                    peaks = [r["peak_memory_bytes"] for r in done if r.get("peak_memory_bytes")]
                    if peaks:
                        entry["peak_memory_bytes_max"] = max(peaks)
                if len(done) < len(rows):
                    entry["error"] = f"{len(rows) - len(done)} of {len(rows)} candidates failed (see runs)"
            else:
                js = os.path.join(run.out, "logs", "cand-peer.json")
                argv = [a.python, PEER, "--candidates", os.path.join(run.out, "specs", "candidates.json"),
                        "--device", a.device, "--precision", precision, "--catalogue", "adapted",
                        "--width", str(cfg["cand_width"]), "--batch", str(cfg["cand_batch"]),
                        "--eval-batch", str(max(cfg["cand_batch"], 256)), "--epochs", str(cfg["cand_epochs"]),
                        "--train-images", str(cfg["cand_train"]), "--test-images", str(cfg["cand_test"]),
                        "--image-size", "32", "--channels", "1", "--classes", "10", "--pad", "2",
                        "--threads", str(a.threads), "--json", js]
                run.log(f"(b) PyTorch peer, {len(specs)} candidates one at a time")
                rc, seconds, _, error = run.execute("cand-peer", argv, cfg["cand_timeout"], thread_env(a.threads))
                doc = load_json(js) if rc == 0 else None
                if doc is None:
                    entry["error"] = error or "no JSON written"
                else:
                    # The process's wall clock, as ours: interpreter and CUDA start-up included.
                    entry.update(wall_seconds=round(seconds, 2), completed=len(doc["candidates"]),
                                 inner_seconds=round(doc["seconds"], 2),
                                 candidates_per_hour=3600 * len(doc["candidates"]) / seconds,
                                 peak_memory_bytes_max=doc.get("peak_memory_bytes"),
                                 runs=[{"families": c["families"], "seconds": round(c["seconds"], 2)}
                                       for c in doc["candidates"]])
                peer_entry = entry
            run.results["candidates"].append(entry)
            run.save()
    if peer_entry and peer_entry.get("candidates_per_hour"):
        for e in run.results["candidates"]:
            if e["side"] == "ours" and e.get("candidates_per_hour"):
                e["ratio"] = e["candidates_per_hour"] / peer_entry["candidates_per_hour"]
                e["target_met"] = e["ratio"] >= CANDIDATE_TARGET
    run.save()


# ---- report ---------------------------------------------------------------------------------


def mib(b):
    return f"{b / 2 ** 20:,.0f}" if b else "–"


def cell(side, key, fmt):
    if "error" in side:
        return "failed" if not side["error"].startswith("skipped") else "skipped"
    v = side.get(key)
    return fmt(v) if v is not None else "–"


def report(run):
    r = run.results
    env = r["env"]
    device_name = env.get("peer_python", {}).get("device_name") or next(
        (row[s].get("device_name") for row in r["step"] for s in ("ours", "peer")
         if row.get(s, {}).get("device_name")), None) or r["device"]
    lines = [f"# moe4 GPU bench ({'quick CPU smoke check: not performance figures' if r['quick'] else 'full'})", "",
             f"- device: {r['device']} ({device_name}); nvidia-smi: {env.get('nvidia_smi', '–')}",
             f"- PyTorch peer: {env.get('peer_python', {})}",
             f"- ours: {env.get('build', '–')}",
             f"- started {r['started']}, {r.get('elapsed_s', 0):.0f} s of a {r['budget_s']} s budget", "",
             "## (a) Training step, hetero4 (AirNet + AlexNet + BagNet + DenseNet + gate)", "",
             f"Target: ours >= {STEP_TARGET}x the PyTorch peer at the same precision. Peak memory: "
             "{} (since process start, model and optimiser included).".format(
                 "CUDA allocator peak allocated MiB" if r["device"].startswith("cuda") else "process peak RSS MiB"),
             "", "| catalogue, input | width | batch | precision | ours images/s | PyTorch images/s | ours/PyTorch | "
             "target | ours peak MiB | PyTorch peak MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["step"]:
        o, p = row.get("ours", {}), row.get("peer", {})
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "–"
        met = ("met" if row["target_met"] else "missed") if "target_met" in row else "–"
        lines.append(f"| {row['catalogue']} {row['image_size']}x{row['image_size']} | {row['width']} | {row['batch']} | "
                     f"{row['precision']} | {cell(o, 'images_per_second', lambda v: f'{v:,.1f}')} | "
                     f"{cell(p, 'images_per_second', lambda v: f'{v:,.1f}')} | {ratio} | {met} | "
                     f"{cell(o, 'peak_memory_bytes', mib)} | {cell(p, 'peak_memory_bytes', mib)} |")
    s = r["settings"]
    lines += ["", "The 32x32 rows use the adapted catalogue: LEMUR's AlexNet needs inputs of 63 px or more.", "",
              "## (b) Candidates per hour, Fashion-MNIST-shaped (1x32x32, 10 classes, synthetic data)", "",
              f"{s['cand_count']} candidates (pairs and triples of the four families, adapted catalogue, width "
              f"{s['cand_width']}), {s['cand_epochs']} epoch(s) of {s['cand_train']:,} images + {s['cand_test']:,} "
              f"test images, batch {s['cand_batch']}. Ours: one moe4-train process, `--jobs-per-device N` (N jobs "
              "at once on one device, each on its own thread and CUDA stream, as `moe4-worker --jobs-per-device "
              "N` runs them); its process wall clock. PyTorch: one process training the same candidates one after another; "
              f"its process wall clock. Target: ours >= {CANDIDATE_TARGET}x PyTorch one job at a time.", "",
              "| setting | precision | completed | wall s | candidates/hour | vs PyTorch | target | peak MiB (max) |",
              "|---|---|---|---|---|---|---|---|"]
    for e in r["candidates"]:
        if "wall_seconds" not in e:
            lines.append(f"| {e['label']} | {e['precision']} | {'skipped' if e.get('error', '').startswith('skipped') else 'failed'} "
                         "| – | – | – | – | – |")
            continue
        ratio = f"{e['ratio']:.2f}x" if "ratio" in e else ("1.00x" if e["side"] == "peer" else "–")
        met = ("met" if e["target_met"] else "missed") if "target_met" in e else "–"
        cph = f"{e['candidates_per_hour']:,.0f}" if e.get("candidates_per_hour") else "–"
        lines.append(f"| {e['label']} | {e['precision']} | {e.get('completed', 0)}/{e['candidates']} | "
                     f"{e['wall_seconds']:.1f} | {cph} | {ratio} | {met} | {mib(e.get('peak_memory_bytes_max'))} |")
    failures = [(f"(a) {row['catalogue']}{row['image_size']} b{row['batch']} {row['precision']} {side}", row[side]["error"])
                for row in r["step"] for side in ("ours", "peer") if "error" in row.get(side, {})]
    failures += [(f"(b) {e['label']}", e["error"]) for e in r["candidates"] if "error" in e]
    if failures or r["notes"]:
        lines += ["", "## Failures and notes", ""]
        lines += [f"- {what}: {why}" for what, why in failures]
        lines += [f"- {n}" for n in r["notes"]]
    lines += ["", "Logs, commands and every JSON: logs/ next to this file; all figures: results.json.", ""]
    with open(os.path.join(run.out, "results.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--bench", default="", help="throughput_bench ('' = none: the peer runs alone)")
    p.add_argument("--train", default="", help="moe4-train ('' = none)")
    p.add_argument("--python", default=sys.executable, help="the peer's interpreter (with torch)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--quick", action="store_true", help="tiny sizes: a CPU smoke check of the same code paths")
    p.add_argument("--budget-s", type=float, default=420, help="stop starting measurements after this many seconds")
    p.add_argument("--only", choices=("a", "b", "ab"), default="ab")
    p.add_argument("--cand-precision", default="", help="(b)'s precision (default: bf16 on CUDA, fp32 on the CPU)")
    p.add_argument("--build-note", default="", help="how ours was built, for the report")
    p.add_argument("--ours-lib-path", default="", help="LD_LIBRARY_PATH entries for our binaries only")
    a = p.parse_args()
    global OURS_LIB_PATH
    OURS_LIB_PATH = a.ours_lib_path
    a.cand_precision = a.cand_precision or ("bf16" if a.device.startswith("cuda") else "fp32")
    run = Run(a)
    environment(run)
    for part, fn in (("a", measure_steps), ("b", measure_candidates)):
        if part not in a.only:
            continue
        try:
            fn(run)
        except Exception as e:  # a bug in one part must not lose the other's figures
            run.results["notes"].append(f"part ({part}) stopped: {type(e).__name__}: {e}")
            run.save()
    run.save()
    report(run)
    run.log(f"done: {os.path.join(run.out, 'results.md')}")


if __name__ == "__main__":
    main()
