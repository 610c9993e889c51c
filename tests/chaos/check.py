#!/usr/bin/env python3
"""Checks a finished chaos campaign and prints one JSON object.

    check.py DB_URL CAMPAIGN_ID WORK_DIR [KILLED_JOBS_FILE]

From PostgreSQL (psql):
  jobs          jobs of the campaign
  succeeded     jobs in state succeeded
  lost          jobs not succeeded, plus jobs whose epoch rows are not exactly 1..E
  duplicated    (job, epoch) rows beyond one, succeeded attempts beyond one per
                job, job_succeeded events beyond one per job
  leases_left   jobs still leased/running or with a lease deadline
From the worker logs in WORK_DIR (worker-*.log):
  trained       epochs trained across all attempts (an epoch counts once per
                attempt that trained it; replays from a checkpoint do not count)
  retrained     trained - jobs * E: epochs trained twice. A kill that lands in
                epoch p loses the partial epoch p only (0 here); a positive value
                means some kill cost more than one epoch of work.
  retrained_by_job  {job: n} when positive
KILLED_JOBS_FILE (optional): one job id per line, a job held by a killed
process; jobs listed there may have retrained epochs up to the number of times
they are listed (a kill during the end-of-epoch checkpoint write).
"""
import glob
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

db, campaign, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
killed_file = sys.argv[4] if len(sys.argv) > 4 else None


def sql(q):
    out = subprocess.run(["psql", db, "-qtAX", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", q],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


epochs_total = int(sql(f"SELECT epochs FROM campaigns WHERE id = {campaign}")[0][0])
jobs = {int(r[0]): r[1] for r in sql(f"SELECT id, state FROM jobs WHERE campaign_id = {campaign}")}
epoch_rows = defaultdict(list)
for job, epoch in sql(f"SELECT e.job_id, e.epoch FROM epochs e JOIN jobs j ON j.id = e.job_id "
                      f"WHERE j.campaign_id = {campaign}"):
    epoch_rows[int(job)].append(int(epoch))
lost_jobs = sorted(j for j, s in jobs.items()
                   if s != "succeeded" or sorted(epoch_rows[j]) != list(range(1, epochs_total + 1)))
dup = 0
for j, eps in epoch_rows.items():
    dup += sum(n - 1 for n in Counter(eps).values() if n > 1)
for (n,) in sql(f"SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id "
                f"WHERE j.campaign_id = {campaign} AND a.outcome = 'succeeded' GROUP BY a.job_id"):
    dup += max(0, int(n) - 1)
for (n,) in sql(f"SELECT count(*) FROM events WHERE campaign_id = {campaign} "
                f"AND kind = 'job_succeeded' GROUP BY job_id"):
    dup += max(0, int(n) - 1)
leases_left = int(sql(f"SELECT count(*) FROM jobs WHERE campaign_id = {campaign} "
                      f"AND (state IN ('leased', 'running') OR lease_deadline IS NOT NULL)")[0][0])
attempts = int(sql(f"SELECT coalesce(sum(attempt), 0) FROM jobs WHERE campaign_id = {campaign}")[0][0])

# Worker logs: per attempt, the checkpoint it resumed from and the epochs it logged.
leased_re = re.compile(r"job (\d+) attempt (\d+): leased .*resume after epoch (\d+)")
resume_re = re.compile(r"resuming from checkpoint \S+ at epoch (\d+)")
epoch_re = re.compile(r"job (\d+) attempt (\d+): epoch (\d+)/(\d+) ")
trained = Counter()
for log in sorted(glob.glob(os.path.join(work, "worker-*.log"))):
    current = None      # (job, attempt) leased most recently in this log
    resumed_at = {}     # (job, attempt) -> checkpoint epoch
    seen = set()        # (job, attempt, epoch) logged
    with open(log, errors="replace") as f:
        for line in f:
            m = leased_re.search(line)
            if m:
                current = (int(m.group(1)), int(m.group(2)))
                resumed_at[current] = 0
                continue
            m = resume_re.search(line)
            if m and current is not None:
                resumed_at[current] = int(m.group(1))
                continue
            m = epoch_re.search(line)
            if m:
                key = (int(m.group(1)), int(m.group(2)))
                epoch = int(m.group(3))
                if (key + (epoch,)) in seen:
                    continue
                seen.add(key + (epoch,))
                if epoch > resumed_at.get(key, 0):
                    trained[key[0]] += 1
allowed = Counter()
if killed_file and os.path.exists(killed_file):
    with open(killed_file) as f:
        for line in f:
            if line.strip():
                allowed[int(line.split()[0])] += 1
retrained_by_job = {j: trained[j] - epochs_total for j in jobs if trained[j] > epochs_total}
over_budget = {j: n for j, n in retrained_by_job.items() if n > allowed[j]}
print(json.dumps({
    "jobs": len(jobs),
    "succeeded": sum(1 for s in jobs.values() if s == "succeeded"),
    "lost": len(lost_jobs),
    "lost_jobs": lost_jobs,
    "duplicated": dup,
    "leases_left": leases_left,
    "attempts": attempts,
    "epochs": epochs_total,
    "trained": sum(trained[j] for j in jobs),
    "retrained": sum(retrained_by_job.values()),
    "retrained_by_job": retrained_by_job,
    "retrained_over_budget": over_budget,
}))
