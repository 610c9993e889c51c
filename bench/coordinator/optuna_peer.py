#!/usr/bin/python3
"""Optuna peer of the coordinator load benchmark (issue 9, item 1).

The same load as coordinator_load_bench, done the way an Optuna user would:
N worker *processes* share one study in PostgreSQL (RDBStorage, its own fresh
database on the same server), each looping ask -> `epochs` x trial.report(value,
step) -> tell with optuna.samplers.RandomSampler, so every epoch report is a
round trip to the database like ours. After a warm-up a window is measured with
the same rules as ours: a trial counts when its tell returned inside the
window, a report when it returned inside it, an ask latency when the ask
started inside it; at the end the workers finish the trial in flight. The
database is then checked (COMPLETE trials and intermediate values) and dropped.

    /usr/bin/python3 bench/coordinator/optuna_peer.py [--pg-url CONNINFO] \\
        [--workers 1,8,32,128] [--seconds 10] [--warmup-seconds 2] [--json OUT]

Run it with Debian's /usr/bin/python3 (python3-optuna, python3-psycopg2):
another python3 may come first on PATH. Prints the figures as JSON on stdout
and progress on stderr. Optuna's per-trial INFO log is turned off, which only
flatters the peer.
"""

import argparse
import gc
import json
import math
import multiprocessing
import os
import sys
import threading
import time

import optuna
import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from sqlalchemy.engine import URL


def progress(message):
    print(f"optuna_peer: {message}", file=sys.stderr, flush=True)


def sqlalchemy_url(dsn):
    """A SQLAlchemy URL for a libpq conninfo or URI, keeping every option."""
    params = psycopg2.extensions.parse_dsn(dsn)
    named = {"user": "username", "password": "password", "host": "host", "port": "port", "dbname": "database"}
    kwargs = {named[k]: v for k, v in params.items() if k in named}
    if "port" in kwargs:
        kwargs["port"] = int(kwargs["port"])
    query = {k: v for k, v in params.items() if k not in named}
    return URL.create("postgresql+psycopg2", query=query, **kwargs).render_as_string(hide_password=False)


def admin_execute(admin_dsn, statement):
    conn = psycopg2.connect(admin_dsn)
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def drop_database(admin_dsn, name):
    admin_execute(admin_dsn, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def percentile(values, p):
    """Nearest-rank percentile, as window_stats.cc computes it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(p / 100.0 * len(ordered))
    return ordered[min(len(ordered) - 1, max(rank, 1) - 1)]


def worker(url, study_name, epochs, seed, init_lock, ready, stop, results):
    """One worker process: its own engine and connection, like a separate host."""
    asks, reports, tells = [], [], []  # (start, seconds) of each finished call
    storage = None
    try:
        # RDBStorage's set-up briefly holds a second connection (alembic's
        # version check): 128 workers starting at once would pass a default
        # max_connections of 100-200. One at a time, then back to a single
        # connection, which is what each worker holds while measured.
        with init_lock:
            storage = optuna.storages.RDBStorage(url)
            study = optuna.load_study(study_name=study_name, storage=storage,
                                      sampler=optuna.samplers.RandomSampler(seed=seed))
            gc.collect()  # releases the version check's connection to the pool...
            storage.engine.dispose()  # ...which this closes
    except Exception as e:
        ready.abort()  # the parent must not wait for this worker
        results.put({"asks": [], "reports": [], "tells": [], "error": f"{type(e).__name__}: {e} (cause: {e.__cause__!r})"})
        return
    try:
        ready.wait()
        while not stop.is_set():
            start = time.monotonic()
            trial = study.ask()
            asks.append((start, time.monotonic() - start))
            for step in range(epochs):
                start = time.monotonic()
                trial.report(0.3 + 0.6 * (step + 1) / epochs, step)
                reports.append((start, time.monotonic() - start))
            start = time.monotonic()
            study.tell(trial, 0.9)
            tells.append((start, time.monotonic() - start))
        results.put({"asks": asks, "reports": reports, "tells": tells, "error": None})
    except Exception as e:  # reported by the parent, which then fails the run
        results.put({"asks": asks, "reports": reports, "tells": tells, "error": f"{type(e).__name__}: {e}"})
    finally:
        storage.engine.dispose()


def audit(dsn, client_trials, epochs):
    """What the database holds; "" when it matches what the workers did."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'")
            complete = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM trials WHERE state = 'RUNNING'")
            running = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM trial_intermediate_values")
            values = cur.fetchone()[0]
    finally:
        conn.close()
    problems = []
    if complete != client_trials:
        problems.append(f"{complete} COMPLETE trials stored but the workers told {client_trials}")
    if values != complete * epochs:
        problems.append(f"{values} intermediate values stored, expected {complete * epochs}")
    if running:
        problems.append(f"{running} trials still RUNNING")
    return {"complete_trials": complete, "intermediate_values": values, "running_trials": running,
            "verified": not problems, "problems": "; ".join(problems)}


def run_once(admin_dsn, n, args):
    name = f"moe4_optunapeer_{os.getpid()}_n{n}"
    drop_database(admin_dsn, name)
    admin_execute(admin_dsn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg2.extensions.make_dsn(admin_dsn, dbname=name)
    url = sqlalchemy_url(dsn)
    procs = []
    try:
        storage = optuna.storages.RDBStorage(url)
        optuna.create_study(study_name="load", storage=storage, direction="maximize")
        storage.engine.dispose()  # no pooled connection may cross the fork

        ctx = multiprocessing.get_context("fork")  # optuna is imported once, here
        init_lock, ready, stop, results = ctx.Lock(), ctx.Barrier(n + 1), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=worker, args=(url, "load", args.epochs, i, init_lock, ready, stop, results))
                 for i in range(n)]
        for p in procs:
            p.start()
        try:
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            stop.set()
            error = results.get(timeout=10)["error"] if not results.empty() else "did not start in 300 s"
            raise RuntimeError(f"N={n}: a worker could not start: {error}")
        begin = time.monotonic() + args.warmup_seconds
        end = begin + args.seconds
        time.sleep(max(0.0, end - time.monotonic()))
        stop.set()
        progress(f"N={n}: window over, {n} workers finishing their trial in flight")
        records = [results.get() for _ in procs]  # before join: a full queue blocks the child
        for p in procs:
            p.join()
    except BaseException:
        for p in procs:  # none may outlive the run (Ctrl-C, a failed start)
            if p.pid is None:
                continue  # never started
            if p.is_alive():
                p.terminate()
            p.join()
        drop_database(admin_dsn, name)
        raise

    errors = [r["error"] for r in records if r["error"]]
    if errors:
        drop_database(admin_dsn, name)
        raise RuntimeError(f"N={n}: a worker failed: {errors[0]}")

    def ended_within(calls):
        return sum(1 for start, took in calls if begin <= start + took < end)

    def latency(calls):
        ms = [took * 1000 for start, took in calls if begin <= start < end]
        return {"count": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99),
                "mean": sum(ms) / len(ms) if ms else 0.0}

    all_calls = {k: [c for r in records for c in r[k]] for k in ("asks", "reports", "tells")}
    trials = ended_within(all_calls["tells"])
    reports = ended_within(all_calls["reports"])
    checked = audit(dsn, len(all_calls["tells"]), args.epochs)
    if args.keep:
        progress(f"N={n}: database {name} kept")
    else:
        drop_database(admin_dsn, name)
    return {
        "workers": n,
        "seconds": args.seconds,
        "trials": trials,
        "trials_per_second": trials / args.seconds,
        "epoch_reports": reports,
        "epoch_reports_per_second": reports / args.seconds,
        "ask_ms": latency(all_calls["asks"]),
        "report_ms": latency(all_calls["reports"]),
        "tell_ms": latency(all_calls["tells"]),
        "client_trials_total": len(all_calls["tells"]),
        "audit": checked,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=os.environ.get("MOE4_PG_URL", ""),
                        help="PostgreSQL superuser conninfo or URI (default: env MOE4_PG_URL)")
    parser.add_argument("--workers", default="1,8,32,128", help="worker process counts, one run each")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="unmeasured start of each run")
    parser.add_argument("--epochs", type=int, default=10, help="trial.report calls per trial")
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    if not args.pg_url:
        parser.error("no PostgreSQL: pass --pg-url or set MOE4_PG_URL")
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers: expected comma-separated integers, got {args.workers!r}")
    if any(w < 1 for w in workers) or args.seconds <= 0 or args.warmup_seconds < 0 or args.epochs < 1:
        parser.error("--workers, --seconds and --epochs must be positive, --warmup-seconds not negative")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    runs, failed = [], False
    for n in workers:
        run = run_once(args.pg_url, n, args)
        progress(f"N={n}: {run['trials_per_second']:.1f} trials/s, "
                 f"{run['audit']['complete_trials']} trials in the database")
        if not run["audit"]["verified"]:
            progress(f"N={n}: the database disagrees: {run['audit']['problems']}")
            failed = True
        runs.append(run)
    out = {"benchmark": "optuna_peer", "optuna_version": optuna.__version__, "sampler": "RandomSampler",
           "epochs_per_trial": args.epochs, "window_seconds": args.seconds,
           "warmup_seconds": args.warmup_seconds, "runs": runs}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
