-- When a coordinator last gave this job's lease its start-up grace (see
-- PgJobStore::ExtendHeldLeases). A lease is given grace again only after its
-- worker was heard from since: a coordinator that restarts in a loop must not
-- keep a dead worker's job leased for ever.
ALTER TABLE jobs ADD COLUMN lease_graced_at timestamptz;
COMMENT ON COLUMN jobs.lease_graced_at IS
  'last start-up grace given to the current lease; NULL if none';
