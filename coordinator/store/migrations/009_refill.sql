-- 009_refill: attrition-aware campaigns. A combination whose jobs all fail
-- for good (out of memory, a non-finite loss, attempts used up) no longer
-- silently shrinks its families' share of the results: with `refill` (the
-- spec's default) the coordinator draws a replacement combination, chosen
-- so that the evaluated set stays stratified, and says so in the events
-- ('combination_refilled', 'refill_exhausted'). Campaigns stored before this
-- migration do not refill.
--
-- Columns added to the views (at the end):
--   v_coverage  evaluated bigint (combinations containing the family with a
--               succeeded job), evaluated_candidates bigint, evaluated_share
--               float8 (evaluated / evaluated_candidates; NULL before any),
--               failed bigint (combinations containing it whose every job failed)

ALTER TABLE campaigns ADD COLUMN refill boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ALTER COLUMN refill DROP DEFAULT;
ALTER TABLE campaigns ADD COLUMN refills int NOT NULL DEFAULT 0;
COMMENT ON COLUMN campaigns.refills IS 'replacement combinations drawn for combinations that failed for good';

ALTER TABLE jobs ADD COLUMN replaces_job_id bigint REFERENCES jobs (id) ON DELETE SET NULL;
COMMENT ON COLUMN jobs.replaces_job_id IS 'the failed job whose combination this refill replaces';

CREATE OR REPLACE VIEW v_coverage AS
WITH cand AS (
  SELECT campaign_id, count(*) AS candidates FROM jobs WHERE replicate = 0 GROUP BY campaign_id
), combos AS (
  SELECT j.campaign_id, j.combo_rank, j.families,
         bool_or(j.state = 'succeeded') AS evaluated,
         bool_and(j.state = 'failed') AS failed
  FROM jobs j GROUP BY j.campaign_id, j.combo_rank, j.families
), ev AS (
  SELECT campaign_id, count(*) FILTER (WHERE evaluated) AS evaluated_candidates
  FROM combos GROUP BY campaign_id
), counts AS (
  SELECT c.campaign_id, f.family, count(*) AS count,
         count(*) FILTER (WHERE c.evaluated) AS evaluated,
         count(*) FILTER (WHERE c.failed) AS failed
  FROM combos c, unnest(c.families) AS f(family)
  GROUP BY c.campaign_id, f.family
)
SELECT c.id AS campaign_id,
       pf.family,
       coalesce(n.count, 0) AS count,
       cand.candidates,
       coalesce(n.count, 0)::float8 / cand.candidates AS share,
       c.k::float8 / cardinality(c.pool) AS ideal_share,
       coalesce(n.count, 0)::float8 / cand.candidates > 2.0 * c.k / cardinality(c.pool) AS anchor,
       coalesce(n.evaluated, 0) AS evaluated,
       ev.evaluated_candidates,
       coalesce(n.evaluated, 0)::float8 / nullif(ev.evaluated_candidates, 0) AS evaluated_share,
       coalesce(n.failed, 0) AS failed
FROM campaigns c
JOIN cand ON cand.campaign_id = c.id
JOIN ev ON ev.campaign_id = c.id
CROSS JOIN LATERAL unnest(c.pool) AS pf(family)
LEFT JOIN counts n ON n.campaign_id = c.id AND n.family = pf.family;
