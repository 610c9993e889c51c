-- 012_asha: multi-fidelity campaigns (schedule: {kind: asha, ...}).
--
-- Under asha every sampled combination first trains min_epochs (rung 0);
-- the coordinator promotes a candidate to the next rung (epochs x eta, the
-- top rung at max_epochs) as soon as it is in the top 1/eta of the finished
-- members of its rung, and stops the rest at their rung once no further
-- result can arrive there. One job row carries a combination through its
-- rungs: its epochs stay keyed (job_id, epoch), so the audit (epochs 1..n
-- stored exactly once) and the fencing token (attempt) span the rungs.
--
-- New job states:
--   waiting  finished its rung, awaiting the promotion decision
--   stopped  stopped at its rung (not promoted); terminal, not a failure
--
-- New columns:
--   campaigns  schedule text ('full' | 'asha'), min_epochs, max_epochs,
--              reduction_factor int (0 for full), rung_epochs int[] (epochs
--              at the end of each rung; {epochs} for full)
--   jobs       rung int (the rung it trains towards or finished last),
--              target_epochs int (the epoch its current rung ends at; NULL =
--              the campaign's epochs), affinity_until timestamptz (a promoted
--              job is kept for the worker holding its checkpoint, jobs.worker_id,
--              until then)
--
-- New table rung_results: one row per job and rung it finished, with the
-- metric promotions rank by (validation accuracy at the epoch selected
-- within the rung) and when the job was promoted from it.
--
-- New views:
--   v_rung_results       one row per (job, rung finished): campaign_id,
--                        rung, epochs, job_id, combo_rank, families,
--                        family_list, validation_accuracy, selected_epoch,
--                        selected_test_accuracy, test_accuracy (at the
--                        rung's last epoch), promoted bool, rank (within the
--                        rung, by validation accuracy, then job id)
--   v_rung_family_stats  v_family_stats per rung (campaign_id, rung, family,
--                        n, mean, std, ci95_low, ci95_high, best,
--                        validation_mean, final_mean, runs)
-- v_family_stats now answers for an asha campaign from its rung 0 (every
-- sampled combination, the unbiased sample); for other campaigns nothing
-- changes.

ALTER TABLE campaigns ADD COLUMN schedule text NOT NULL DEFAULT 'full'
  CHECK (schedule IN ('full', 'asha'));
ALTER TABLE campaigns ADD COLUMN min_epochs int NOT NULL DEFAULT 0 CHECK (min_epochs >= 0);
ALTER TABLE campaigns ADD COLUMN max_epochs int NOT NULL DEFAULT 0 CHECK (max_epochs >= 0);
ALTER TABLE campaigns ADD COLUMN reduction_factor int NOT NULL DEFAULT 0
  CHECK (reduction_factor = 0 OR reduction_factor >= 2);
ALTER TABLE campaigns ADD COLUMN rung_epochs int[];
UPDATE campaigns SET rung_epochs = ARRAY[epochs];
ALTER TABLE campaigns ALTER COLUMN rung_epochs SET NOT NULL;
COMMENT ON COLUMN campaigns.rung_epochs IS 'epochs at the end of each rung (asha); {epochs} for full';

ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN
  ('pending', 'leased', 'running', 'succeeded', 'failed', 'cancelled', 'waiting', 'stopped'));
ALTER TABLE jobs ADD COLUMN rung int NOT NULL DEFAULT 0 CHECK (rung >= 0);
ALTER TABLE jobs ADD COLUMN target_epochs int CHECK (target_epochs >= 1);
ALTER TABLE jobs ADD COLUMN affinity_until timestamptz;
COMMENT ON COLUMN jobs.target_epochs IS 'epoch the current rung ends at (asha); NULL = campaigns.epochs';
COMMENT ON COLUMN jobs.affinity_until IS
  'a promoted job is leased only by its checkpoint holder (worker_id) until then';
-- The lease looks for promoted jobs first: few rows, found by this index.
CREATE INDEX jobs_promoted_pending_idx ON jobs (priority DESC, id) WHERE state = 'pending' AND rung > 0;

CREATE TABLE rung_results (
  job_id                 bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  campaign_id            bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  rung                   int         NOT NULL CHECK (rung >= 0),
  epochs                 int         NOT NULL CHECK (epochs >= 1),
  attempt                int         NOT NULL,   -- the attempt that completed the rung
  metric                 float8,                 -- validation accuracy at the selected epoch; NULL: none
  selected_epoch         int         NOT NULL,
  selected_test_accuracy float8,
  test_accuracy          float8,                 -- at the rung's last epoch
  recorded_at            timestamptz NOT NULL DEFAULT now(),
  promoted_at            timestamptz,            -- promoted to rung + 1; NULL: not (yet)
  PRIMARY KEY (job_id, rung)
);
CREATE INDEX rung_results_campaign_idx ON rung_results (campaign_id, rung);

CREATE VIEW v_rung_results AS
SELECT r.campaign_id, r.rung, r.epochs, r.job_id, j.combo_rank, j.families,
       array_to_string(j.families, '+') AS family_list,
       r.metric AS validation_accuracy, r.selected_epoch, r.selected_test_accuracy, r.test_accuracy,
       r.promoted_at IS NOT NULL AS promoted,
       row_number() OVER (PARTITION BY r.campaign_id, r.rung
                          ORDER BY r.metric DESC NULLS LAST, r.job_id) AS rank
FROM rung_results r JOIN jobs j ON j.id = r.job_id;

CREATE VIEW v_rung_family_stats AS
WITH r AS (
  SELECT x.campaign_id, x.rung, f.family, x.selected_test_accuracy AS acc,
         x.validation_accuracy AS val, x.test_accuracy AS fin
  FROM v_rung_results x, unnest(x.families) AS f(family)
), s AS (
  SELECT campaign_id, rung, family, count(*) AS n, avg(acc) AS mean, stddev_samp(acc) AS std,
         max(acc) AS best, avg(val) AS validation_mean, avg(fin) AS final_mean, count(*)::bigint AS runs
  FROM r GROUP BY campaign_id, rung, family
)
SELECT campaign_id, rung, family, n, mean, std,
       mean - moe4_t975(n - 1) * std / sqrt(n) AS ci95_low,
       mean + moe4_t975(n - 1) * std / sqrt(n) AS ci95_high,
       best, validation_mean, final_mean, runs
FROM s;

-- Same columns as before (006); asha campaigns answer from rung 0: the
-- jobs that succeeded there reached the top rung because they ranked well,
-- so their families' statistics would be biased.
CREATE OR REPLACE VIEW v_family_stats AS
WITH r AS (
  SELECT cr.campaign_id, f.family, cr.selected_test_accuracy AS acc,
         cr.validation_accuracy AS val, cr.final_test_accuracy AS fin, cr.n AS runs
  FROM v_combinations cr
  JOIN campaigns c ON c.id = cr.campaign_id AND c.schedule = 'full',
  unnest(cr.families) AS f(family)
), s AS (
  SELECT campaign_id, family, count(*) AS n, avg(acc) AS mean, stddev_samp(acc) AS std,
         max(acc) AS best, avg(val) AS validation_mean, avg(fin) AS final_mean, sum(runs)::bigint AS runs
  FROM r GROUP BY campaign_id, family
)
SELECT campaign_id, family, n, mean, std,
       mean - moe4_t975(n - 1) * std / sqrt(n) AS ci95_low,
       mean + moe4_t975(n - 1) * std / sqrt(n) AS ci95_high,
       best,
       validation_mean,
       final_mean,
       runs
FROM s
UNION ALL
SELECT g.campaign_id, g.family, g.n, g.mean, g.std, g.ci95_low, g.ci95_high, g.best, g.validation_mean,
       g.final_mean, g.runs
FROM v_rung_family_stats g JOIN campaigns c ON c.id = g.campaign_id AND c.schedule = 'asha'
WHERE g.rung = 0;

GRANT SELECT ON v_rung_results, v_rung_family_stats TO moe4_reader;
