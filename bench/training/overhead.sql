-- Scheduling-overhead breakdown of one finished job, for overhead.sh (which
-- runs it in one psql session after filling the temp table log_events).
--
-- Inputs:
--   :job_id          the job (its one succeeded attempt is measured)
--   :train_images    training images per epoch (what images_per_second counts)
--   :json_out        file that receives the JSON object
--   log_events(kind, epoch, at)  the worker's log lines for that attempt:
--     'leased' (epoch NULL), 'epoch' (the per-epoch line, written after the
--     checkpoint), 'reported' (ReportEpochs returned).
--
-- Where the numbers come from:
--   wall              attempts.started_at (the Lease transaction) -> attempts.ended_at
--                     (the Complete transaction): the coordinator's clock.
--   training steps    per epoch train_images / images_per_second: the trainer
--                     times its batch loop (BatchStream set-up and batch
--                     waits included) and divides the images by it.
--   evaluation        epoch_seconds (train + test pass, before the checkpoint)
--                     minus the training steps.
--   overhead          the rest, split with the worker's log timestamps (ms):
--     lease reply     Lease transaction -> 'leased' log line
--     setup           'leased' -> start of epoch 1: job validation, dataset
--                     load, model build, optimiser, checkpoint lookup
--     checkpoints     epoch i's line - epoch i-1's 'reported' - epoch_seconds_i
--                     (i >= 2); epoch 1's is taken as their mean, so it can be
--                     told apart from the setup
--     epoch reports   epoch line -> 'reported' (queue to disk + ReportEpochs)
--     completion      last 'reported' -> Complete transaction (final flush,
--                     heartbeat stop, Complete RPC)
--   The log times and the database share the host clock (loopback); the
--   worker runs with TZ=UTC so its log times parse unambiguously.
\set ON_ERROR_STOP on

CREATE TEMP TABLE att AS
SELECT a.started_at, a.ended_at, j.created_at, j.parameter_count, j.train_seconds,
       extract(epoch FROM a.ended_at - a.started_at)::float8 AS wall
FROM jobs j JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempt
WHERE j.id = :job_id AND j.state = 'succeeded';

CREATE TEMP TABLE ep AS
SELECT e.epoch, e.epoch_seconds,
       :train_images / e.images_per_second AS train_s,
       e.epoch_seconds - :train_images / e.images_per_second AS eval_s,
       (SELECT max(at) FROM log_events l WHERE l.kind = 'epoch' AND l.epoch = e.epoch) AS logged_at,
       (SELECT max(at) FROM log_events l WHERE l.kind = 'reported' AND l.epoch = e.epoch) AS reported_at
FROM epochs e WHERE e.job_id = :job_id;

-- Checkpoint write of epoch i >= 2: from the previous report to this epoch's
-- line, less the epoch itself.
CREATE TEMP TABLE ckpt AS
SELECT cur.epoch, extract(epoch FROM cur.logged_at - prev.reported_at)::float8 - cur.epoch_seconds AS s
FROM ep cur JOIN ep prev ON prev.epoch = cur.epoch - 1;

CREATE TEMP TABLE phase (ord int, name text, seconds float8, kind text);
INSERT INTO phase
SELECT 1, 'training steps', sum(train_s), 'train' FROM ep
UNION ALL SELECT 2, 'evaluation', sum(eval_s), 'eval' FROM ep
UNION ALL SELECT 3, 'lease reply',
  extract(epoch FROM (SELECT at FROM log_events WHERE kind = 'leased') - started_at)::float8, 'overhead' FROM att
UNION ALL SELECT 4, 'setup (validate, dataset, model build)',
  extract(epoch FROM (SELECT logged_at FROM ep WHERE epoch = 1) - (SELECT at FROM log_events WHERE kind = 'leased'))::float8
  - (SELECT epoch_seconds FROM ep WHERE epoch = 1) - coalesce((SELECT avg(s) FROM ckpt), 0), 'overhead'
UNION ALL SELECT 5, 'checkpoints',
  (SELECT coalesce(sum(s), 0) + coalesce(avg(s), 0) FROM ckpt), 'overhead'
UNION ALL SELECT 6, 'epoch reports',
  (SELECT sum(extract(epoch FROM reported_at - logged_at)::float8) FROM ep), 'overhead'
UNION ALL SELECT 7, 'completion (flush, Complete)',
  extract(epoch FROM ended_at - (SELECT reported_at FROM ep ORDER BY epoch DESC LIMIT 1))::float8, 'overhead'
FROM att;

-- The human table.
\pset footer off
SELECT name AS phase, round(seconds::numeric, 3) AS seconds,
       round((100 * seconds / (SELECT wall FROM att))::numeric, 2) AS "% of job"
FROM phase ORDER BY ord;

-- Totals: the log-based split must add up to what the database says.
CREATE TEMP TABLE total AS
SELECT (SELECT wall FROM att) AS wall,
       (SELECT sum(seconds) FROM phase WHERE kind = 'train') AS train,
       (SELECT sum(seconds) FROM phase WHERE kind = 'eval') AS eval,
       (SELECT wall FROM att) - (SELECT sum(seconds) FROM phase WHERE kind IN ('train', 'eval')) AS overhead,
       (SELECT sum(seconds) FROM phase WHERE kind = 'overhead') AS overhead_from_log;
SELECT round(wall::numeric, 3) AS "job wall s",
       round((100 * train / wall)::numeric, 2) AS "train %",
       round((100 * eval / wall)::numeric, 2) AS "eval %",
       round((100 * overhead / wall)::numeric, 2) AS "overhead %",
       round((100 * (wall - train) / wall)::numeric, 2) AS "not training %",
       round((overhead - overhead_from_log)::numeric, 3) AS "unexplained s"
FROM total;

\pset tuples_only on
\pset format unaligned
\o :json_out
SELECT jsonb_pretty(jsonb_build_object(
  'bench', 'overhead',
  'job_id', :job_id,
  'train_images_per_epoch', :train_images,
  'parameter_count', (SELECT parameter_count FROM att),
  'queue_wait_seconds', (SELECT extract(epoch FROM started_at - created_at)::float8 FROM att),
  'job_wall_seconds', t.wall,
  'training_steps_seconds', t.train,
  'evaluation_seconds', t.eval,
  'overhead_seconds', t.overhead,
  'training_share', t.train / t.wall,
  'evaluation_share', t.eval / t.wall,
  'overhead_share', t.overhead / t.wall,
  'not_training_share', (t.wall - t.train) / t.wall,
  'overhead_target_share', 0.02,
  'overhead_unexplained_seconds', t.overhead - t.overhead_from_log,
  'phases', (SELECT jsonb_agg(jsonb_build_object('phase', name, 'kind', kind, 'seconds', seconds,
                                                 'share', seconds / t.wall) ORDER BY ord) FROM phase),
  'epochs', (SELECT jsonb_agg(jsonb_build_object('epoch', epoch, 'epoch_seconds', epoch_seconds,
                                                 'training_steps_seconds', train_s, 'evaluation_seconds', eval_s)
                              ORDER BY epoch) FROM ep),
  'checkpoint_seconds_measured', (SELECT jsonb_agg(jsonb_build_object('epoch', epoch, 'seconds', s) ORDER BY epoch)
                                  FROM ckpt)))
FROM total t;
\o
