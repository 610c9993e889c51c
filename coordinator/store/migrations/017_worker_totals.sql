-- Each worker's attempts that succeeded and that failed, kept by a trigger
-- on attempts, so that the dashboard's workers page reads one row per worker
-- instead of counting every worker's attempts: on 100,000 jobs a page of 500
-- workers counted ~50,000 index entries (15 ms of SQL, 84 ms p99 with four
-- readers on two cores, over the 50 ms the page must answer in).
--
-- "failed" is failed, timed_out or lease_expired: the attempts that ended
-- badly on that worker (retry, cancelled and paused are not its fault).
-- The trigger keeps the counts equal to a recount of attempts whatever
-- writes them: every store path that ends an attempt, a worker_id changed,
-- a job deleted with its campaign.
CREATE TABLE worker_totals (
  worker_id bigint PRIMARY KEY REFERENCES workers (id) ON DELETE CASCADE,
  succeeded bigint NOT NULL DEFAULT 0,
  failed    bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION moe4_attempt_class(outcome text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN outcome = 'succeeded' THEN 1
              WHEN outcome IN ('failed', 'timed_out', 'lease_expired') THEN 2
              ELSE 0 END
$$;

CREATE FUNCTION moe4_add_to_worker_totals(worker bigint, class int, delta int) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO worker_totals (worker_id, succeeded, failed)
  VALUES (worker, CASE WHEN class = 1 THEN delta ELSE 0 END, CASE WHEN class = 2 THEN delta ELSE 0 END)
  ON CONFLICT (worker_id) DO UPDATE
    SET succeeded = worker_totals.succeeded + EXCLUDED.succeeded,
        failed = worker_totals.failed + EXCLUDED.failed
$$;

CREATE FUNCTION moe4_count_attempt() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_class int := 0;
  new_class int := 0;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.worker_id IS NOT NULL THEN
    old_class := moe4_attempt_class(OLD.outcome);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.worker_id IS NOT NULL THEN
    new_class := moe4_attempt_class(NEW.outcome);
  END IF;
  -- Most updates (heartbeats of the lease, a retry's reason) change nothing here.
  IF TG_OP = 'UPDATE' AND old_class = new_class AND OLD.worker_id IS NOT DISTINCT FROM NEW.worker_id THEN
    RETURN NULL;
  END IF;
  IF old_class > 0 THEN PERFORM moe4_add_to_worker_totals(OLD.worker_id, old_class, -1); END IF;
  IF new_class > 0 THEN PERFORM moe4_add_to_worker_totals(NEW.worker_id, new_class, 1); END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER attempts_count_insert AFTER INSERT ON attempts
  FOR EACH ROW WHEN (NEW.outcome IS NOT NULL) EXECUTE FUNCTION moe4_count_attempt();
CREATE TRIGGER attempts_count_update AFTER UPDATE OF outcome, worker_id ON attempts
  FOR EACH ROW EXECUTE FUNCTION moe4_count_attempt();
CREATE TRIGGER attempts_count_delete AFTER DELETE ON attempts
  FOR EACH ROW WHEN (OLD.outcome IS NOT NULL) EXECUTE FUNCTION moe4_count_attempt();

INSERT INTO worker_totals (worker_id, succeeded, failed)
SELECT worker_id,
       count(*) FILTER (WHERE moe4_attempt_class(outcome) = 1),
       count(*) FILTER (WHERE moe4_attempt_class(outcome) = 2)
FROM attempts WHERE worker_id IS NOT NULL
GROUP BY worker_id;
