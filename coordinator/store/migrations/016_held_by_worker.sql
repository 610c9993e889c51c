-- 016_held_by_worker: each worker's leased or running job (GET
-- /api/v1/workers, ListWorkers) through an index of only those jobs, one row
-- per busy worker. Without it every worker's lookup intersected
-- jobs_worker_idx with jobs_held_idx: 34 ms for a page of 500 workers with
-- 100,000 jobs, against 2 ms with it (bench/dashboard, docs/performance.md).
CREATE INDEX jobs_held_by_worker_idx ON jobs (worker_id, id) WHERE state IN ('leased', 'running');
