-- Fills a campaign that moe4ctl submitted (its jobs pending, as the
-- coordinator created them) with the history of a campaign well under way,
-- by SQL in a few statements rather than through gRPC:
--   :workers workers, seen in the last 20 s, with their device and version;
--   90 % of the jobs succeeded (attempt 1, or 2 after an expired lease for 3 %),
--   with :epochs epochs each, selected epoch and accuracies filled;
--   2 % failed (max_attempts attempts), 1 per worker running (some epochs
--   done, a live lease), the rest pending; one attempts row per lease;
--   an events row per finished job plus a few lease events.
-- psql -v campaign=ID -v workers=N -v epochs=E -f seed.sql
\set ON_ERROR_STOP on
-- Seeding is not a change a watcher should hear about: skip the NOTIFY
-- triggers of migration 014 (and the foreign-key triggers; the rows are
-- consistent by construction).
SET session_replication_role = replica;
BEGIN;

INSERT INTO workers (name, device_kind, device_name, device_memory_mb, threads, version, registered_at, last_seen)
SELECT format('bench-%s', lpad(i::text, 5, '0')),
       CASE WHEN i % 4 = 0 THEN 'cuda' ELSE 'cpu' END,
       CASE WHEN i % 4 = 0 THEN 'NVIDIA H100 80GB HBM3' ELSE 'x86_64' END,
       CASE WHEN i % 4 = 0 THEN 81559 ELSE 0 END,
       8, '0.9.0', now() - interval '2 hours', now() - (i % 20) * interval '1 second'
FROM generate_series(1, :workers) AS i;

-- n: the job's position in its campaign (0-based, by id); w: its worker.
CREATE TEMP TABLE plan ON COMMIT DROP AS
SELECT j.id, j.n, j.total,
       (SELECT min(id) FROM workers) + (j.n % :workers) AS worker_id,
       CASE WHEN j.n < j.total * 90 / 100 THEN 'succeeded'
            WHEN j.n < j.total * 92 / 100 THEN 'failed'
            WHEN j.n < j.total * 92 / 100 + :workers THEN 'running'
            ELSE 'pending' END AS state,
       CASE WHEN j.n % 33 = 0 THEN 2 ELSE 1 END AS leases,
       -- a stable pseudo-random accuracy per job in [0.55, 0.95)
       0.55 + 0.4 * ((j.n * 7919) % 10007) / 10007.0 AS acc,
       now() - interval '2 hours' + j.n * interval '60 ms' AS t0
FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
      FROM jobs WHERE campaign_id = :campaign) AS j;
CREATE INDEX ON plan (id);

UPDATE jobs j SET
  state = p.state,
  attempt = CASE p.state WHEN 'pending' THEN 0 WHEN 'failed' THEN j.max_attempts ELSE p.leases END,
  worker_id = CASE WHEN p.state = 'pending' THEN NULL ELSE p.worker_id END,
  lease_owner = CASE WHEN p.state = 'pending' THEN NULL ELSE 'bench:1' END,
  lease_deadline = CASE WHEN p.state = 'running' THEN now() + interval '1 day' END,
  attempt_started_at = CASE WHEN p.state = 'pending' THEN NULL ELSE p.t0 END,
  started_at = CASE WHEN p.state = 'pending' THEN NULL ELSE p.t0 END,
  finished_at = CASE WHEN p.state IN ('succeeded', 'failed') THEN p.t0 + interval '5 minutes' END,
  progress_epoch = CASE p.state WHEN 'succeeded' THEN :epochs WHEN 'running' THEN 1 + p.n % :epochs END,
  final_test_accuracy = CASE WHEN p.state = 'succeeded' THEN p.acc END,
  best_test_accuracy = CASE WHEN p.state = 'succeeded' THEN p.acc + 0.005 END,
  selected_epoch = CASE WHEN p.state = 'succeeded' THEN :epochs END,
  selected_validation_accuracy = CASE WHEN p.state = 'succeeded' THEN p.acc + 0.01 END,
  selected_test_accuracy = CASE WHEN p.state = 'succeeded' THEN p.acc END,
  parameter_count = CASE WHEN p.state = 'succeeded' THEN 1000000 + p.n % 5000000 END,
  train_seconds = CASE WHEN p.state = 'succeeded' THEN 280 + p.n % 40 END,
  error = CASE WHEN p.state = 'failed' THEN 'CUDA out of memory (bench seed)' END,
  updated_at = CASE WHEN p.state = 'pending' THEN j.updated_at ELSE p.t0 + interval '5 minutes' END
FROM plan p WHERE p.id = j.id;

INSERT INTO attempts (job_id, attempt, worker_id, lease_owner, started_at, ended_at, outcome, reason)
SELECT p.id, a, p.worker_id, 'bench:1', p.t0, CASE WHEN p.state = 'running' AND a = p.leases THEN NULL ELSE p.t0 + interval '5 minutes' END,
       CASE WHEN a < p.leases THEN 'lease_expired'
            WHEN p.state = 'running' THEN NULL ELSE p.state END,
       CASE WHEN a < p.leases THEN 'no heartbeat for 90 s' WHEN p.state = 'failed' THEN 'CUDA out of memory' END
FROM plan p, generate_series(1, p.leases) AS a
WHERE p.state IN ('succeeded', 'running')
UNION ALL
SELECT p.id, a, p.worker_id, 'bench:1', p.t0, p.t0 + interval '5 minutes',
       CASE WHEN a < j.max_attempts THEN 'retry' ELSE 'failed' END, 'CUDA out of memory'
FROM plan p JOIN jobs j ON j.id = p.id, generate_series(1, j.max_attempts) AS a
WHERE p.state = 'failed';

INSERT INTO epochs (job_id, epoch, attempt, train_loss, train_accuracy, test_loss, test_accuracy, lr, gate_mean,
                    routing_share, expert_accuracy, routing_entropy, dead_experts, ecology, temperature, epoch_seconds,
                    images_per_second, peak_memory_bytes, recorded_at, validation_loss, validation_accuracy,
                    expert_class_accuracy, specialisation_bits, specialisation_normalised)
SELECT p.id, e, p.leases, 1.5 / e, p.acc * e / :epochs, 1.6 / e, p.acc * e / :epochs, 0.001,
       '{0.25,0.25,0.25,0.25}', '{0.3,0.2,0.3,0.2}', '{0.5,0.6,0.55,0.52}', 1.38, 0, 0.4, 1.0, 30.0,
       1500 + p.n % 500, 800000000, p.t0 + e * interval '30 s', 1.55 / e, (p.acc + 0.01) * e / :epochs,
       NULL, 0.2, 0.1
FROM plan p, generate_series(1, CASE p.state WHEN 'succeeded' THEN :epochs WHEN 'running' THEN p.n % :epochs ELSE 0 END) AS e;

INSERT INTO events (at, kind, campaign_id, job_id, worker_id, detail)
SELECT p.t0 + interval '5 minutes', CASE p.state WHEN 'succeeded' THEN 'job_succeeded' ELSE 'job_failed' END,
       :campaign, p.id, p.worker_id, ''
FROM plan p WHERE p.state IN ('succeeded', 'failed')
UNION ALL
SELECT p.t0 + interval '90 s', 'lease_expired', :campaign, p.id, p.worker_id, 'no heartbeat for 90 s'
FROM plan p WHERE p.leases > 1
ORDER BY 1;

COMMIT;
-- As autovacuum leaves tables some minutes after bulk inserts (PostgreSQL 13
-- and later vacuum on inserts too): statistics, and visibility maps that
-- let the per-worker counts read attempts_worker_idx alone.
VACUUM ANALYZE;
