-- Which catalogue builds a campaign's experts (common/catalogue_kind.h):
-- 'lemur' (LEMUR's networks as published, the spec's default) or 'adapted'
-- (reference designs adapted to small inputs). Campaigns stored before this
-- migration were built from the adapted designs.
ALTER TABLE campaigns ADD COLUMN catalogue text NOT NULL DEFAULT 'adapted'
  CHECK (catalogue IN ('lemur', 'adapted'));
ALTER TABLE campaigns ALTER COLUMN catalogue DROP DEFAULT;
COMMENT ON COLUMN campaigns.catalogue IS
  'lemur: LEMUR''s networks as published; adapted: designs adapted to small inputs';

-- The leaderboard names the catalogue, so rankings of two campaigns over the
-- same family ids are never mixed up (appended: CREATE OR REPLACE keeps the
-- existing columns and the reader role's grant).
CREATE OR REPLACE VIEW v_leaderboard AS
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
       j.finished_at,
       c.catalogue
FROM jobs j
JOIN campaigns c ON c.id = j.campaign_id
LEFT JOIN workers w ON w.id = j.worker_id
WHERE j.state = 'succeeded';
