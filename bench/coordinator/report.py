#!/usr/bin/python3
"""Side-by-side table of the coordinator load benchmark (issue 9, item 1).

Merges the JSON of coordinator_load_bench (ours), optuna_peer.py and
pgbench_ceiling.sh, one file per tool and worker count as run.sh writes them,
into one object, prints one table per worker count N, and writes the object.

    report.py --ours F... --optuna F... --pgbench F... [--json OUT] [--size small|full]

Ratios: ours/Optuna compares trials/s; ours/pgbench compares trials/s with
pgbench's transactions/s (one TPC-B-like transaction is 5 statements; one of
our trials is 12 coordinator transactions: Lease, 10 x ReportEpochs, Complete),
and "ours txn/s" puts our committed RPC transactions next to pgbench's.
"""

import argparse
import json
import os
import sys

TARGET_TRIALS_PER_SECOND = 1000
TARGET_OPTUNA_RATIO = 50


def load_runs(paths):
    """workers -> run, and the first file's top-level fields (minus runs)."""
    runs, meta = {}, {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if not meta:
            meta = {k: v for k, v in data.items() if k != "runs"}
        for run in data["runs"]:
            runs[run["workers"]] = run
    return runs, meta


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def ours_txn_per_second(run):
    calls = run["lease_ms"]["count"] + run["report_ms"]["count"] + run["complete_ms"]["count"]
    return calls / run["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", nargs="+", required=True)
    parser.add_argument("--optuna", nargs="+", required=True)
    parser.add_argument("--pgbench", nargs="+", required=True)
    parser.add_argument("--json", help="write the merged object here")
    parser.add_argument("--size", default="full")
    args = parser.parse_args()

    ours, ours_meta = load_runs(args.ours)
    optuna, optuna_meta = load_runs(args.optuna)
    pgbench, pgbench_meta = load_runs(args.pgbench)

    rows = []
    for n in sorted(ours):
        o, p, g = ours[n], optuna.get(n), pgbench.get(n)
        rows.append({
            "workers": n,
            "ours_trials_per_second": o["trials_per_second"],
            "ours_epoch_rows_per_second": o["epoch_rows_per_second"],
            "ours_txn_per_second": ours_txn_per_second(o),
            "optuna_trials_per_second": p["trials_per_second"] if p else None,
            "optuna_epoch_reports_per_second": p["epoch_reports_per_second"] if p else None,
            "ours_over_optuna": ratio(o["trials_per_second"], p["trials_per_second"] if p else None),
            "pgbench_tps": g["tps"] if g else None,
            "ours_over_pgbench": ratio(o["trials_per_second"], g["tps"] if g else None),
            "ours_txn_over_pgbench": ratio(ours_txn_per_second(o), g["tps"] if g else None),
            "lease_p50_ms": o["lease_ms"]["p50"],
            "lease_p99_ms": o["lease_ms"]["p99"],
            "coordinator_cpu_percent": o["coordinator_cpu_percent"],
            "coordinator_cpu_ms_per_trial": o["coordinator_cpu_ms_per_trial"],
            "postgres_cpu_percent": o["postgres_cpu_percent"],
            "machine_busy_percent": o["machine_busy_percent"],
            "verified": o["audit"]["verified"] and (p is None or p["audit"]["verified"]),
        })

    cores = ours_meta.get("cores")
    print(f"\nCoordinator load, side by side ({args.size}: {ours_meta.get('window_seconds')} s window per N, "
          f"{ours_meta.get('epochs_per_trial')} epoch reports per trial, {cores} cores, "
          f"Optuna {optuna_meta.get('optuna_version')} RandomSampler, pgbench TPC-B-like -s 1)")
    header = (f"{'N':>4} {'ours tr/s':>10} {'Optuna tr/s':>11} {'ours/Opt':>9} {'pgbench TPS':>11} "
              f"{'ours/pgb':>9} {'ours txn/s':>10} {'lease p50/p99 ms':>17} {'coord CPU%':>10} "
              f"{'CPU-ms/tr':>9} {'pg CPU%':>8} {'box busy%':>9} {'verified':>8}")
    print(header)
    for r in rows:
        print(f"{r['workers']:>4} {r['ours_trials_per_second']:>10.1f} "
              f"{fmt(r['optuna_trials_per_second'], '.1f'):>11} {fmt(r['ours_over_optuna'], '.1f'):>8}x "
              f"{fmt(r['pgbench_tps'], '.0f'):>11} {fmt(r['ours_over_pgbench'], '.3f'):>9} "
              f"{r['ours_txn_per_second']:>10.0f} "
              f"{r['lease_p50_ms']:>8.2f}/{r['lease_p99_ms']:<8.2f} "
              f"{fmt(r['coordinator_cpu_percent'], '.0f'):>10} {fmt(r['coordinator_cpu_ms_per_trial'], '.2f'):>9} "
              f"{fmt(r['postgres_cpu_percent'], '.0f'):>8} {fmt(r['machine_busy_percent'], '.0f'):>9} "
              f"{'yes' if r['verified'] else 'NO':>8}")
    best = max(rows, key=lambda r: r["ours_trials_per_second"])
    ratios = [r["ours_over_optuna"] for r in rows if r["ours_over_optuna"] is not None]
    print(f"  target: >= {TARGET_TRIALS_PER_SECOND} trials/s on 2 cores -> best {best['ours_trials_per_second']:.1f} "
          f"at N={best['workers']} ({'met' if best['ours_trials_per_second'] >= TARGET_TRIALS_PER_SECOND else 'missed'})")
    if ratios:
        met = min(ratios) >= TARGET_OPTUNA_RATIO
        print(f"  target: >= {TARGET_OPTUNA_RATIO}x Optuna trials/s -> {min(ratios):.1f}x .. {max(ratios):.1f}x "
              f"({'met at every N' if met else 'missed'})")
    print("  ours txn/s = Lease + ReportEpochs + Complete calls committed per second (one transaction each);"
          " CPU% = % of one core; box busy% = all cores, every process")

    print("\nOurs per call (ms, p50/p99), and where the CPU went (% of one core)")
    print(f"{'N':>4} {'Lease':>15} {'ReportEpochs':>15} {'Complete':>15} {'coordinator':>11} {'postgres':>9} "
          f"{'bench':>6} {'trials':>7} {'audit'}")
    epochs = ours_meta.get("epochs_per_trial")
    for n in sorted(ours):
        o = ours[n]
        calls = " ".join(f"{o[k]['p50']:>7.2f}/{o[k]['p99']:<7.2f}" for k in ("lease_ms", "report_ms", "complete_ms"))
        audit = o["audit"]
        print(f"{n:>4} {calls} {fmt(o['coordinator_cpu_percent'], '.0f'):>11} "
              f"{fmt(o['postgres_cpu_percent'], '.0f'):>9} {fmt(o['bench_cpu_percent'], '.0f'):>6} "
              f"{o['trials']:>7} {audit['succeeded_with_epochs_1_to_n']} succeeded jobs with epochs 1..{epochs} "
              f"of {o['client_trials_total']} completed" + ("" if audit["verified"] else f"; {audit['problems']}"))

    merged = {"benchmark": "coordinator_load_side_by_side", "size": args.size,
              "target_trials_per_second": TARGET_TRIALS_PER_SECOND, "target_optuna_ratio": TARGET_OPTUNA_RATIO,
              "rows": rows,
              "ours": dict(ours_meta, runs=[ours[n] for n in sorted(ours)]),
              "optuna": dict(optuna_meta, runs=[optuna[n] for n in sorted(optuna)]),
              "pgbench": dict(pgbench_meta, runs=[pgbench[n] for n in sorted(pgbench)])}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(merged, f, indent=2)
            f.write("\n")
        print(f"  JSON: {os.path.abspath(args.json)}")
    return 0 if all(r["verified"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
