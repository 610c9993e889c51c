-- 010_family_ranks: each campaign's family ranking, for comparing two
-- campaigns side by side (moe4ctl compare A B; docs/queries.md has the query
-- that joins two campaigns, e.g. the published lexicographic enumeration
-- against a stratified campaign over the same pool).
--
-- v_family_ranks  one row per (campaign, family) with a result
--   campaign_id bigint, campaign_name text, sampler text, family text,
--   rank bigint (1 = best mean validation accuracy; 'final' campaigns: best
--   mean selected test accuracy), n bigint (combinations), mean, ci95_low,
--   ci95_high, validation_mean, final_mean float8 (as v_family_stats)
CREATE VIEW v_family_ranks AS
SELECT f.campaign_id,
       c.name AS campaign_name,
       c.sampler,
       f.family,
       row_number() OVER (PARTITION BY f.campaign_id
                          ORDER BY coalesce(f.validation_mean, f.mean) DESC NULLS LAST, f.family) AS rank,
       f.n, f.mean, f.ci95_low, f.ci95_high, f.validation_mean, f.final_mean
FROM v_family_stats f
JOIN campaigns c ON c.id = f.campaign_id;

GRANT SELECT ON v_family_ranks TO moe4_reader;
