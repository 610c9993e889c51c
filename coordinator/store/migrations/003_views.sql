-- 003_views: the result views analysts query, and the only relations the
-- moe4_reader role may read. Their columns are a stable interface: a later
-- migration may add columns at the end, never rename, retype or drop one.
--
-- Accuracies are fractions in [0, 1]. Statistics are over succeeded jobs with a
-- final accuracy unless a view says otherwise.
--
-- v_leaderboard   one row per succeeded job
--   campaign_id bigint, campaign_name text, rank bigint (1 = best final accuracy
--   in the campaign), job_id bigint, families text[], family_list text
--   ("A+B+C+D"), final_test_accuracy float8, best_test_accuracy float8,
--   epochs_done bigint, train_seconds float8, parameter_count bigint,
--   attempts int, worker_name text, finished_at timestamptz
--
-- v_family_stats  one row per (campaign, family) with at least one result
--   campaign_id bigint, family text, n bigint, mean float8, std float8 (sample
--   std; NULL when n < 2), ci95_low float8, ci95_high float8 (Student-t 95 %
--   interval of the mean; NULL when n < 2), best float8
--
-- v_pair_stats    one row per (campaign, family pair) that co-occurs in a result
--   campaign_id bigint, family_a text, family_b text (family_a < family_b),
--   n bigint, mean float8, best float8, n_top bigint (of those, jobs in the
--   campaign's top quartile by final accuracy), expected_top float8 (n times
--   the campaign's top-quartile share: what chance gives), lift float8
--   (n_top / expected_top; > 1 = the pair is over-represented among the best)
--
-- v_coverage      one row per (campaign, pool family), over all jobs whatever
--   their state
--   campaign_id bigint, family text, count bigint, candidates bigint, share
--   float8 (count / candidates), ideal_share float8 (K / N), anchor boolean
--   (share > 2K/N)
--
-- v_ecology       one row per job with at least one epoch, at its last epoch
--   campaign_id bigint, job_id bigint, families text[], state text, epoch int,
--   ecology float8 (E = T*H/(O+B)), dead_experts int, routing_entropy float8,
--   temperature float8, test_accuracy float8, final_test_accuracy float8,
--   all_alive boolean (dead_experts = 0), ecology_at_least_half boolean (E >= 0.5)
--
-- v_epochs        one row per job and epoch
--   campaign_id bigint, job_id bigint, families text[], family_list text,
--   epoch int, attempt int, train_loss, train_accuracy, test_loss,
--   test_accuracy, lr float8, gate_mean float8[], routing_share float8[],
--   expert_accuracy float8[] (per expert, in `families` order),
--   routing_entropy float8, dead_experts int, ecology float8, temperature
--   float8, epoch_seconds float8, images_per_second float8,
--   peak_memory_bytes bigint, recorded_at timestamptz

-- Two-sided 95 % quantile of Student's t with `df` degrees of freedom. Past 30
-- it steps down conservatively (the value at the lower end of each band).
CREATE OR REPLACE FUNCTION moe4_t975(df bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE
    WHEN df < 1 THEN NULL
    WHEN df <= 30 THEN (ARRAY[12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
                              2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
                              2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
                              2.048, 2.045, 2.042]::float8[])[df]
    WHEN df <= 40 THEN 2.042
    WHEN df <= 60 THEN 2.021
    WHEN df <= 120 THEN 2.000
    ELSE 1.980
  END
$$;

CREATE VIEW v_leaderboard AS
SELECT j.campaign_id,
       c.name AS campaign_name,
       row_number() OVER (PARTITION BY j.campaign_id
                          ORDER BY j.final_test_accuracy DESC NULLS LAST, j.id) AS rank,
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
       j.finished_at
FROM jobs j
JOIN campaigns c ON c.id = j.campaign_id
LEFT JOIN workers w ON w.id = j.worker_id
WHERE j.state = 'succeeded';

CREATE VIEW v_family_stats AS
WITH r AS (
  SELECT j.campaign_id, f.family, j.final_test_accuracy AS acc
  FROM jobs j, unnest(j.families) AS f(family)
  WHERE j.state = 'succeeded' AND j.final_test_accuracy IS NOT NULL
), s AS (
  SELECT campaign_id, family, count(*) AS n, avg(acc) AS mean, stddev_samp(acc) AS std,
         max(acc) AS best
  FROM r GROUP BY campaign_id, family
)
SELECT campaign_id, family, n, mean, std,
       mean - moe4_t975(n - 1) * std / sqrt(n) AS ci95_low,
       mean + moe4_t975(n - 1) * std / sqrt(n) AS ci95_high,
       best
FROM s;

CREATE VIEW v_pair_stats AS
WITH r AS (
  SELECT j.id, j.campaign_id, j.families, j.final_test_accuracy AS acc,
         ntile(4) OVER (PARTITION BY j.campaign_id
                        ORDER BY j.final_test_accuracy DESC, j.id) = 1 AS top
  FROM jobs j
  WHERE j.state = 'succeeded' AND j.final_test_accuracy IS NOT NULL
), share AS (
  SELECT campaign_id, avg(CASE WHEN top THEN 1.0 ELSE 0.0 END)::float8 AS top_share
  FROM r GROUP BY campaign_id
), p AS (
  SELECT r.campaign_id, a.family AS family_a, b.family AS family_b, r.acc, r.top
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
            THEN count(*) FILTER (WHERE p.top) / (count(*) * s.top_share) END AS lift
FROM p JOIN share s ON s.campaign_id = p.campaign_id
GROUP BY p.campaign_id, p.family_a, p.family_b, s.top_share;

CREATE VIEW v_coverage AS
WITH cand AS (
  SELECT campaign_id, count(*) AS candidates FROM jobs GROUP BY campaign_id
), counts AS (
  SELECT j.campaign_id, f.family, count(*) AS count
  FROM jobs j, unnest(j.families) AS f(family)
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

CREATE VIEW v_ecology AS
SELECT j.campaign_id,
       j.id AS job_id,
       j.families,
       j.state,
       e.epoch,
       e.ecology,
       e.dead_experts,
       e.routing_entropy,
       e.temperature,
       e.test_accuracy,
       j.final_test_accuracy,
       e.dead_experts = 0 AS all_alive,
       e.ecology >= 0.5 AS ecology_at_least_half
FROM jobs j
JOIN LATERAL (SELECT * FROM epochs x WHERE x.job_id = j.id ORDER BY x.epoch DESC LIMIT 1) e
  ON true;

CREATE VIEW v_epochs AS
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
       e.recorded_at
FROM epochs e
JOIN jobs j ON j.id = e.job_id;

GRANT SELECT ON v_leaderboard, v_family_stats, v_pair_stats, v_coverage, v_ecology, v_epochs
  TO moe4_reader;
