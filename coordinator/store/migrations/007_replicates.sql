-- 007_replicates: each sampled combination may be trained `replicates`
-- times, as separate jobs with independent seeds (ReplicateSeed in
-- common/campaign_spec.h). Replicate 0 keeps the seed a campaign without
-- replicates gives the combination. The results views average the
-- replicates of a combination (v_combinations, 006) and use the combination
-- as the unit of the family and pair statistics; coverage counts each
-- combination once.
--
-- Columns added to the views (at the end):
--   v_leaderboard   replicate int (0-based run of the job's combination)
-- v_coverage counts combinations (replicate 0), as before replicates.

ALTER TABLE campaigns ADD COLUMN replicates int NOT NULL DEFAULT 1
  CHECK (replicates BETWEEN 1 AND 10);
ALTER TABLE campaigns ALTER COLUMN replicates DROP DEFAULT;
COMMENT ON COLUMN campaigns.replicates IS 'jobs per sampled combination, each with its own seed';

ALTER TABLE jobs ADD COLUMN replicate int NOT NULL DEFAULT 0 CHECK (replicate >= 0);
ALTER TABLE jobs ALTER COLUMN replicate DROP DEFAULT;
ALTER TABLE jobs DROP CONSTRAINT jobs_campaign_id_combo_rank_key;
ALTER TABLE jobs ADD CONSTRAINT jobs_campaign_combo_replicate_key UNIQUE (campaign_id, combo_rank, replicate);

CREATE OR REPLACE VIEW v_leaderboard AS
SELECT j.campaign_id,
       c.name AS campaign_name,
       row_number() OVER (PARTITION BY j.campaign_id
                          ORDER BY moe4_ranking_accuracy(c.selection, j.selected_validation_accuracy,
                                                         j.selected_test_accuracy) DESC NULLS LAST,
                                   j.id) AS rank,
       j.id AS job_id,
       j.families,
       array_to_string(j.families, '+') AS family_list,
       j.final_test_accuracy,
       j.best_test_accuracy,
       (SELECT count(*) FROM epochs e WHERE e.job_id = j.id) AS epochs_done,
       j.train_seconds,
       j.parameter_count,
       j.attempt AS attempts,
       w.name AS worker_name,
       j.finished_at,
       c.catalogue,
       j.selected_epoch,
       j.selected_validation_accuracy AS validation_accuracy,
       j.selected_test_accuracy,
       c.selection,
       j.replicate
FROM jobs j
JOIN campaigns c ON c.id = j.campaign_id
LEFT JOIN workers w ON w.id = j.worker_id
WHERE j.state = 'succeeded';

CREATE OR REPLACE VIEW v_coverage AS
WITH cand AS (
  SELECT campaign_id, count(*) AS candidates FROM jobs WHERE replicate = 0 GROUP BY campaign_id
), counts AS (
  SELECT j.campaign_id, f.family, count(*) AS count
  FROM jobs j, unnest(j.families) AS f(family)
  WHERE j.replicate = 0
  GROUP BY j.campaign_id, f.family
)
SELECT c.id AS campaign_id,
       pf.family,
       coalesce(n.count, 0) AS count,
       cand.candidates,
       coalesce(n.count, 0)::float8 / cand.candidates AS share,
       c.k::float8 / cardinality(c.pool) AS ideal_share,
       coalesce(n.count, 0)::float8 / cand.candidates > 2.0 * c.k / cardinality(c.pool) AS anchor
FROM campaigns c
JOIN cand ON cand.campaign_id = c.id
CROSS JOIN LATERAL unnest(c.pool) AS pf(family)
LEFT JOIN counts n ON n.campaign_id = c.id AND n.family = pf.family;
