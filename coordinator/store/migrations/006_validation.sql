-- 006_validation: validation-based selection. A campaign holds out
-- dataset.validation_fraction of its training images (stratified by class,
-- seeded by the campaign); each epoch stores the validation loss and accuracy
-- beside the test figures; when a job succeeds the coordinator selects the
-- epoch with the best validation accuracy (earliest on ties) and stores it
-- with the validation and test accuracy there. Test accuracy never selects:
-- the leaderboard, the family and pair statistics rank by validation
-- accuracy and report the test accuracy at the selected epoch.
--
-- Campaigns stored before this migration had no validation split: their
-- selection is 'final' (the last epoch), which is what their numbers meant.
--
-- Columns added to the views (at the end; 003_views.sql describes the rest):
--   v_leaderboard   selected_epoch int, validation_accuracy float8 (at the
--                   selected epoch; NULL without a split), selected_test_accuracy
--                   float8 (test accuracy at the selected epoch), selection text.
--                   rank now orders by validation_accuracy (campaigns with
--                   selection 'final' have none: by selected_test_accuracy), then job id.
--   v_family_stats  validation_mean float8, final_mean float8 (mean final test
--                   accuracy), runs bigint (succeeded jobs behind the n
--                   combinations). n, mean, std, ci95_*, best are now of the
--                   test accuracy at the selected epoch (for a 'final' campaign
--                   the final test accuracy, as before), over combinations:
--                   each contributes the mean of its succeeded runs.
--   v_pair_stats    validation_mean float8, final_mean float8; n counts
--                   combinations, mean is of the test accuracy at the selected
--                   epoch, and the top quartile is by validation accuracy
--                   ('final' campaigns: by that test accuracy).
--   v_epochs        validation_loss float8, validation_accuracy float8.
--
-- New view:
--   v_combinations  one row per combination with a succeeded job
--     campaign_id bigint, rank bigint (1 = best mean validation accuracy; 'final'
--     campaigns: best mean selected test accuracy), combo_rank bigint, families
--     text[], family_list text, n bigint (succeeded runs), validation_accuracy,
--     validation_sd, selected_test_accuracy, selected_test_sd,
--     final_test_accuracy, final_test_sd float8 (means over the runs and their
--     sample standard deviations, NULL when n < 2), job_ids bigint[], ranking
--     float8 (the number rank orders by)

ALTER TABLE epochs ADD COLUMN validation_loss float8;
ALTER TABLE epochs ADD COLUMN validation_accuracy float8;
COMMENT ON COLUMN epochs.validation_accuracy IS
  'top-1 accuracy on the held-out validation images; NULL without a validation split';

ALTER TABLE campaigns ADD COLUMN selection text NOT NULL DEFAULT 'final'
  CHECK (selection IN ('best_validation', 'final'));
ALTER TABLE campaigns ALTER COLUMN selection DROP DEFAULT;
ALTER TABLE campaigns ADD COLUMN validation_fraction float8 NOT NULL DEFAULT 0
  CHECK (validation_fraction >= 0 AND validation_fraction <= 0.5);
ALTER TABLE campaigns ALTER COLUMN validation_fraction DROP DEFAULT;
COMMENT ON COLUMN campaigns.selection IS
  'best_validation: the epoch with the best validation accuracy; final: the last epoch';

ALTER TABLE jobs ADD COLUMN selected_epoch int;
ALTER TABLE jobs ADD COLUMN selected_validation_accuracy float8;
ALTER TABLE jobs ADD COLUMN selected_test_accuracy float8;
COMMENT ON COLUMN jobs.selected_epoch IS
  'the epoch the campaign''s selection chose when the job succeeded';

-- The jobs that succeeded before: the last epoch, as selection 'final' says.
UPDATE jobs j SET selected_epoch = e.epoch, selected_test_accuracy = e.test_accuracy
FROM (SELECT DISTINCT ON (job_id) job_id, epoch, test_accuracy
      FROM epochs ORDER BY job_id, epoch DESC) e
WHERE e.job_id = j.id AND j.state = 'succeeded';

-- The number that ranks a job in its campaign: validation accuracy at the
-- selected epoch, or, for a campaign without a validation split, the test
-- accuracy there (the only number it has; docs/queries.md says what that
-- means). Never both within one campaign, so the test set never breaks a
-- tie of validation accuracies.
CREATE OR REPLACE FUNCTION moe4_ranking_accuracy(selection text, validation float8, test float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN selection = 'final' THEN test ELSE validation END
$$;

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
       c.selection
FROM jobs j
JOIN campaigns c ON c.id = j.campaign_id
LEFT JOIN workers w ON w.id = j.worker_id
WHERE j.state = 'succeeded';

-- One row per combination with a result: its succeeded jobs (replicates)
-- averaged. The unit of the family and pair statistics is the combination,
-- so n there counts combinations and the intervals reflect how combinations
-- differ, not how often one was trained.
CREATE VIEW v_combinations AS
WITH g AS (
  SELECT j.campaign_id, j.combo_rank, j.families,
         count(*) AS n,
         avg(j.selected_validation_accuracy) AS validation_accuracy,
         stddev_samp(j.selected_validation_accuracy) AS validation_sd,
         avg(j.selected_test_accuracy) AS selected_test_accuracy,
         stddev_samp(j.selected_test_accuracy) AS selected_test_sd,
         avg(j.final_test_accuracy) AS final_test_accuracy,
         stddev_samp(j.final_test_accuracy) AS final_test_sd,
         array_agg(j.id ORDER BY j.id) AS job_ids,
         moe4_ranking_accuracy(min(c.selection), avg(j.selected_validation_accuracy),
                               avg(j.selected_test_accuracy)) AS ranking
  FROM jobs j JOIN campaigns c ON c.id = j.campaign_id
  WHERE j.state = 'succeeded' AND j.selected_test_accuracy IS NOT NULL
  GROUP BY j.campaign_id, j.combo_rank, j.families
)
SELECT campaign_id,
       row_number() OVER (PARTITION BY campaign_id
                          ORDER BY ranking DESC NULLS LAST, job_ids[1]) AS rank,
       combo_rank, families, array_to_string(families, '+') AS family_list, n,
       validation_accuracy, validation_sd, selected_test_accuracy, selected_test_sd,
       final_test_accuracy, final_test_sd, job_ids, ranking
FROM g;

CREATE OR REPLACE VIEW v_family_stats AS
WITH r AS (
  SELECT cr.campaign_id, f.family, cr.selected_test_accuracy AS acc,
         cr.validation_accuracy AS val, cr.final_test_accuracy AS fin, cr.n AS runs
  FROM v_combinations cr, unnest(cr.families) AS f(family)
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
FROM s;

CREATE OR REPLACE VIEW v_pair_stats AS
WITH r AS (
  SELECT cr.campaign_id, cr.families, cr.selected_test_accuracy AS acc,
         cr.validation_accuracy AS val, cr.final_test_accuracy AS fin,
         ntile(4) OVER (PARTITION BY cr.campaign_id
                        ORDER BY cr.ranking DESC NULLS LAST, cr.job_ids[1]) = 1 AS top
  FROM v_combinations cr
), share AS (
  SELECT campaign_id, avg(CASE WHEN top THEN 1.0 ELSE 0.0 END)::float8 AS top_share
  FROM r GROUP BY campaign_id
), p AS (
  SELECT r.campaign_id, a.family AS family_a, b.family AS family_b, r.acc, r.val, r.fin, r.top
  FROM r, unnest(r.families) AS a(family), unnest(r.families) AS b(family)
  WHERE a.family < b.family
)
SELECT p.campaign_id, p.family_a, p.family_b,
       count(*) AS n,
       avg(p.acc) AS mean,
       max(p.acc) AS best,
       count(*) FILTER (WHERE p.top) AS n_top,
       count(*) * s.top_share AS expected_top,
       CASE WHEN count(*) * s.top_share > 0
            THEN count(*) FILTER (WHERE p.top) / (count(*) * s.top_share) END AS lift,
       avg(p.val) AS validation_mean,
       avg(p.fin) AS final_mean
FROM p JOIN share s ON s.campaign_id = p.campaign_id
GROUP BY p.campaign_id, p.family_a, p.family_b, s.top_share;

CREATE OR REPLACE VIEW v_epochs AS
SELECT j.campaign_id,
       e.job_id,
       j.families,
       array_to_string(j.families, '+') AS family_list,
       e.epoch,
       e.attempt,
       e.train_loss,
       e.train_accuracy,
       e.test_loss,
       e.test_accuracy,
       e.lr,
       e.gate_mean,
       e.routing_share,
       e.expert_accuracy,
       e.routing_entropy,
       e.dead_experts,
       e.ecology,
       e.temperature,
       e.epoch_seconds,
       e.images_per_second,
       e.peak_memory_bytes,
       e.recorded_at,
       e.validation_loss,
       e.validation_accuracy
FROM epochs e
JOIN jobs j ON j.id = e.job_id;

GRANT SELECT ON v_combinations TO moe4_reader;
