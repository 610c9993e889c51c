-- 015_worker_indexes: the dashboard's worker totals (GET /api/v1/workers)
-- count each worker's attempts and find the job it ran last. Without these
-- indexes that was a scan of attempts and jobs per worker: with 1,000 workers
-- and 100,000 jobs the request took more than 30 s (bench/dashboard).
CREATE INDEX attempts_worker_idx ON attempts (worker_id, outcome);
CREATE INDEX jobs_worker_idx ON jobs (worker_id, updated_at) WHERE worker_id IS NOT NULL;
