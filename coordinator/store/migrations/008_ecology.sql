-- 008_ecology: the routing-ecology figure E = T*H/(O+B) as the seed claim
-- means it. E is a property of the recipe: T the configured initial gate
-- temperature, H the entropy bonus, O the oracle weight, B the load-balance
-- weight. When O + B = 0 nothing pushes the gate towards one expert: E is
-- +infinity if T*H > 0 (the published setting "no balance loss, an entropy
-- bonus") and undefined (0/0) if H = 0 too. Before this migration workers
-- stored 0 in both cases, and used the learned T of the epoch.
--
-- epochs.ecology now holds E from the configured recipe ('Infinity', or NaN
-- when undefined); the views turn NaN into NULL with the reason in
-- ecology_undefined, and add E with the learned T of the epoch.
--
-- Columns added to the views (at the end):
--   v_ecology  ecology_learned float8 (E with the epoch's learned T; NULL when
--              undefined), ecology_undefined text (why E is undefined; NULL when
--              it is defined), entropy_weight, oracle_weight, load_balance_weight,
--              configured_temperature float8 (the recipe's H, O, B, T).
--              ecology is NULL when undefined (was 0), +Infinity when O+B = 0 < T*H;
--              ecology_at_least_half is true for +Infinity and NULL when undefined.
--   v_epochs   ecology is NULL when undefined.

-- E from T, H, O, B: +Infinity when O + B = 0 < T*H, NULL when 0/0.
CREATE OR REPLACE FUNCTION moe4_ecology(t float8, h float8, o float8, b float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN o + b > 0 THEN t * h / (o + b)
              WHEN t * h > 0 THEN 'Infinity'::float8
         END
$$;

-- Why E is undefined, or NULL when it is defined.
CREATE OR REPLACE FUNCTION moe4_ecology_undefined(t float8, h float8, o float8, b float8)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN o + b > 0 OR t * h > 0 THEN NULL
              ELSE 'O + B = 0 and T*H = 0: E = 0/0 (no balance, oracle or entropy term)'
         END
$$;

-- Recompute what workers stored: E from the campaign's configured recipe.
UPDATE epochs e
SET ecology = coalesce(moe4_ecology(coalesce((c.recipe->>'gate_temperature')::float8, 2.0),
                                    coalesce((c.recipe->>'entropy_weight')::float8, 0),
                                    coalesce((c.recipe->>'oracle_weight')::float8, 0),
                                    coalesce((c.recipe->>'load_balance_weight')::float8, 0)),
                       'NaN'::float8)
FROM jobs j JOIN campaigns c ON c.id = j.campaign_id
WHERE j.id = e.job_id;

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
       r.t AS configured_temperature
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
       e.validation_accuracy
FROM epochs e
JOIN jobs j ON j.id = e.job_id;
