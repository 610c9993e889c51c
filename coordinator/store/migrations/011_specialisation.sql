-- 011_specialisation: how far the gate sorts the classes among the experts,
-- per epoch on the test set (worker/train/metrics.h).
--
--   expert_class_accuracy  float8[K][C]: [i][c] is the standalone top-1
--                          accuracy of expert i (families order) on the test
--                          images of class c (1-based in SQL: class c is
--                          [i][c + 1]); NaN for a class without test images.
--   specialisation_bits    I(class; top-1 routed expert) in bits: 0 when the
--                          routing ignores the class, H(class) (log2 C for
--                          balanced classes) when the expert determines it.
--   specialisation_normalised  I / H(class), in [0, 1].
--
-- NULL for epochs stored by workers older than these figures.
--
-- Columns added to the views (at the end):
--   v_ecology  specialisation_bits, specialisation_normalised float8,
--              expert_class_accuracy float8[][] (of the last epoch)
--   v_epochs   the same, per epoch
ALTER TABLE epochs
  ADD COLUMN expert_class_accuracy float8[]
    CHECK (expert_class_accuracy IS NULL OR array_ndims(expert_class_accuracy) = 2),
  ADD COLUMN specialisation_bits float8,
  ADD COLUMN specialisation_normalised float8;

CREATE OR REPLACE VIEW v_ecology AS
SELECT j.campaign_id,
       j.id AS job_id,
       j.families,
       j.state,
       e.epoch,
       nullif(e.ecology, 'NaN'::float8) AS ecology,
       e.dead_experts,
       e.routing_entropy,
       e.temperature,
       e.test_accuracy,
       j.final_test_accuracy,
       e.dead_experts = 0 AS all_alive,
       nullif(e.ecology, 'NaN'::float8) >= 0.5 AS ecology_at_least_half,
       moe4_ecology(e.temperature, r.h, r.o, r.b) AS ecology_learned,
       CASE WHEN e.ecology = 'NaN'::float8
            THEN coalesce(moe4_ecology_undefined(r.t, r.h, r.o, r.b), 'undefined (not a number)')
       END AS ecology_undefined,
       r.h AS entropy_weight,
       r.o AS oracle_weight,
       r.b AS load_balance_weight,
       r.t AS configured_temperature,
       e.specialisation_bits,
       e.specialisation_normalised,
       e.expert_class_accuracy
FROM jobs j
JOIN campaigns c ON c.id = j.campaign_id
CROSS JOIN LATERAL (SELECT coalesce((c.recipe->>'gate_temperature')::float8, 2.0) AS t,
                           coalesce((c.recipe->>'entropy_weight')::float8, 0) AS h,
                           coalesce((c.recipe->>'oracle_weight')::float8, 0) AS o,
                           coalesce((c.recipe->>'load_balance_weight')::float8, 0) AS b) r
JOIN LATERAL (SELECT * FROM epochs x WHERE x.job_id = j.id ORDER BY x.epoch DESC LIMIT 1) e
  ON true;

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
       nullif(e.ecology, 'NaN'::float8) AS ecology,
       e.temperature,
       e.epoch_seconds,
       e.images_per_second,
       e.peak_memory_bytes,
       e.recorded_at,
       e.validation_loss,
       e.validation_accuracy,
       e.specialisation_bits,
       e.specialisation_normalised,
       e.expert_class_accuracy
FROM epochs e
JOIN jobs j ON j.id = e.job_id;
