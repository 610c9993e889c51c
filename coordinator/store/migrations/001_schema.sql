-- 001_schema: the tables. Postgres is the single source of truth; the
-- coordinator holds no state of its own, so two coordinators on one database
-- cooperate through the row locks taken here.
--
-- States are text with CHECK constraints rather than enums so that analysts
-- read them without casts and a later migration can add a state in one ALTER.

CREATE TABLE campaigns (
  id               bigserial PRIMARY KEY,
  name             text        NOT NULL,
  state            text        NOT NULL DEFAULT 'active'
                   CHECK (state IN ('active', 'paused', 'cancelled', 'done')),
  k                int         NOT NULL CHECK (k >= 1),
  sampler          text        NOT NULL,
  budget           int         NOT NULL CHECK (budget >= 1),
  seed             numeric(20, 0) NOT NULL,         -- uint64
  pool             text[]      NOT NULL,            -- resolved families, byte order
  max_attempts     int         NOT NULL CHECK (max_attempts >= 1),
  priority         int         NOT NULL DEFAULT 0,
  max_job_seconds  bigint      NOT NULL DEFAULT 0,  -- 0 = unlimited
  dataset_name     text        NOT NULL,
  epochs           int         NOT NULL,
  recipe           jsonb       NOT NULL,            -- moe4.v1.Recipe as JSON (seed = 0)
  dataset          jsonb       NOT NULL,            -- moe4.v1.DatasetSpec as JSON
  device_kind      text        NOT NULL DEFAULT '', -- '' = any
  min_memory_mb    bigint      NOT NULL DEFAULT 0,
  spec_yaml        text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);

CREATE TABLE workers (
  id               bigserial PRIMARY KEY,
  name             text        NOT NULL UNIQUE,
  device_kind      text        NOT NULL,
  device_name      text        NOT NULL DEFAULT '',
  device_memory_mb bigint      NOT NULL DEFAULT 0,
  threads          int         NOT NULL DEFAULT 0,
  version          text        NOT NULL DEFAULT '',
  registered_at    timestamptz NOT NULL DEFAULT now(),
  last_seen        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id                  bigserial PRIMARY KEY,
  campaign_id         bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  ordinal             int         NOT NULL,         -- position in the sampler's order
  combo_rank          bigint      NOT NULL,         -- rank in the combinatorial number system over the pool
  families            text[]      NOT NULL,
  seed                numeric(20, 0) NOT NULL,      -- per-job seed (JobSeed(campaign seed, rank))
  state               text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'leased', 'running', 'succeeded', 'failed', 'cancelled')),
  -- The fencing token: incremented by every lease; writes must echo it.
  attempt             int         NOT NULL DEFAULT 0,
  max_attempts        int         NOT NULL,
  priority            int         NOT NULL DEFAULT 0,
  device_kind         text        NOT NULL DEFAULT '',
  min_memory_mb       bigint      NOT NULL DEFAULT 0,
  max_job_seconds     bigint      NOT NULL DEFAULT 0,
  -- The holder of the current (or last) attempt. Kept after the attempt ends
  -- so that a retried Complete/Fail can be recognised as a duplicate.
  worker_id           bigint      REFERENCES workers (id),
  lease_owner         text,                         -- coordinator instance that granted the lease
  lease_deadline      timestamptz,
  attempt_started_at  timestamptz,
  not_before          timestamptz NOT NULL DEFAULT now(),  -- retry backoff
  lease_expiries      int         NOT NULL DEFAULT 0,
  progress_epoch      int,
  progress_step       bigint,
  final_test_accuracy float8,
  best_test_accuracy  float8,
  parameter_count     bigint,
  train_seconds       float8,
  error               text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,                  -- first lease
  finished_at         timestamptz,
  UNIQUE (campaign_id, combo_rank)
);
CREATE INDEX jobs_pending_idx ON jobs (priority DESC, id) WHERE state = 'pending';
CREATE INDEX jobs_campaign_state_idx ON jobs (campaign_id, state);
CREATE INDEX jobs_held_idx ON jobs (lease_deadline) WHERE state IN ('leased', 'running');

-- One row per lease of a job: who ran it, how it ended.
CREATE TABLE attempts (
  job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt     int         NOT NULL,
  worker_id   bigint      REFERENCES workers (id),
  lease_owner text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz,
  outcome     text,       -- succeeded | failed | retry | lease_expired | timed_out | cancelled | paused
  reason      text,
  PRIMARY KEY (job_id, attempt)
);

-- Per-epoch metrics, keyed (job_id, epoch) and written by upsert, so a
-- re-sent or re-run epoch replaces its row instead of duplicating it.
CREATE TABLE epochs (
  job_id            bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  epoch             int         NOT NULL CHECK (epoch >= 1),
  attempt           int         NOT NULL,
  train_loss        float8      NOT NULL,
  train_accuracy    float8      NOT NULL,
  test_loss         float8      NOT NULL,
  test_accuracy     float8      NOT NULL,
  lr                float8      NOT NULL,
  gate_mean         float8[]    NOT NULL,   -- per expert, in jobs.families order
  routing_share     float8[]    NOT NULL,
  expert_accuracy   float8[]    NOT NULL,
  routing_entropy   float8      NOT NULL,
  dead_experts      int         NOT NULL,
  ecology           float8      NOT NULL,
  temperature       float8      NOT NULL,
  epoch_seconds     float8      NOT NULL,
  images_per_second float8      NOT NULL,
  peak_memory_bytes bigint      NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, epoch)
);

CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  kind        text        NOT NULL,
  campaign_id bigint,
  job_id      bigint,
  worker_id   bigint,
  detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX events_campaign_idx ON events (campaign_id, id);
