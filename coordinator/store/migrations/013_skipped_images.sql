-- 013_skipped_images: the image files a job's dataset load left out.
--
-- A folder or tinyimagenet dataset with skip_bad_images: true skips files
-- that cannot be used (corrupt, truncated, not an image, ...) instead of
-- failing the job, and the worker counts them per split and class. Every
-- epoch report carries the counts (EpochMetrics.skipped_images); the job
-- keeps those of the latest report that carried any, so a retry on a worker
-- whose copy is intact does not erase what an earlier attempt skipped.
--
-- New column:
--   jobs  skipped_images jsonb: {"train/cat": 2, "test/dog": 1}, keyed
--         "<split>/<class>" (split train, val or test; a file without a
--         label counts for class "(unlabelled)"; a worker with more than
--         1000 keys sums the rest under "(other classes)"); NULL when
--         nothing was skipped or no epoch was reported yet
--
-- New view:
--   v_skipped_images  one row per job and split and class with skipped files:
--                     campaign_id, job_id, families, family_list, state,
--                     split text (NULL for "(other classes)"), class_name
--                     text, files int (how many were skipped)
ALTER TABLE jobs ADD COLUMN skipped_images jsonb
  CHECK (skipped_images IS NULL OR jsonb_typeof(skipped_images) = 'object');
COMMENT ON COLUMN jobs.skipped_images IS
  'files the dataset load skipped (skip_bad_images), {"<split>/<class>": count}; latest reported; NULL = none';

CREATE VIEW v_skipped_images AS
SELECT j.campaign_id,
       j.id AS job_id,
       j.families,
       array_to_string(j.families, '+') AS family_list,
       j.state,
       CASE WHEN strpos(s.key, '/') > 0 THEN split_part(s.key, '/', 1) END AS split,
       substr(s.key, strpos(s.key, '/') + 1) AS class_name,
       s.value::int AS files
FROM jobs j
CROSS JOIN LATERAL jsonb_each_text(j.skipped_images) AS s(key, value);

GRANT SELECT ON v_skipped_images TO moe4_reader;
