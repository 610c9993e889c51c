-- 014_change_notify: the database says when something a watcher shows changed.
--
-- Every write that changes what `moe4ctl watch` or the dashboard shows sends
-- NOTIFY moe4_change with a payload naming what changed:
--   campaign:<id>  the campaign row, or the state, attempt or rung of one
--                  of its jobs
--   workers        a worker registered or re-registered as another device
--                  (heartbeats only touch last_seen and
--                  do not notify: the pages read heartbeat ages on a slow poll)
-- Triggers rather than calls in the store, so that every writer (the
-- coordinators, the reaper, a human with psql) is seen. PostgreSQL delivers a
-- notification at commit and folds identical payloads of one transaction
-- into one, so a 100,000-job submission or a bulk cancel sends one per
-- campaign. Lease renewals, step and epoch progress and epoch rows send
-- nothing: a transaction that notifies takes PostgreSQL's global notify lock
-- at commit, and one per epoch report cut the coordinator's trials/s at 8
-- workers from 204 to 123 (bench/coordinator). Watchers see epochs on their
-- resync poll (1 s), as before notifications existed.

CREATE FUNCTION moe4_notify_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- campaigns carry their own id; jobs carry campaign_id.
  IF TG_TABLE_NAME = 'campaigns' THEN
    PERFORM pg_notify('moe4_change', 'campaign:' || NEW.id);
  ELSE
    PERFORM pg_notify('moe4_change', 'campaign:' || NEW.campaign_id);
  END IF;
  RETURN NULL;
END $$;

-- A bulk insert of jobs (a submission): one statement, one pass over its rows.
CREATE FUNCTION moe4_notify_new_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('moe4_change', 'campaign:' || c.campaign_id)
    FROM (SELECT DISTINCT campaign_id FROM inserted_jobs) c;
  RETURN NULL;
END $$;

CREATE FUNCTION moe4_notify_workers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('moe4_change', 'workers');
  RETURN NULL;
END $$;

CREATE TRIGGER campaigns_notify AFTER INSERT OR UPDATE ON campaigns
  FOR EACH ROW EXECUTE FUNCTION moe4_notify_campaign();

CREATE TRIGGER jobs_insert_notify AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS inserted_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION moe4_notify_new_jobs();

CREATE TRIGGER jobs_update_notify AFTER UPDATE ON jobs
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state
        OR OLD.attempt IS DISTINCT FROM NEW.attempt
        OR OLD.rung IS DISTINCT FROM NEW.rung)
  EXECUTE FUNCTION moe4_notify_campaign();

CREATE TRIGGER workers_insert_notify AFTER INSERT ON workers
  FOR EACH ROW EXECUTE FUNCTION moe4_notify_workers();

CREATE TRIGGER workers_update_notify AFTER UPDATE ON workers
  FOR EACH ROW
  WHEN ((OLD.device_kind, OLD.device_name, OLD.device_memory_mb, OLD.threads, OLD.version)
        IS DISTINCT FROM (NEW.device_kind, NEW.device_name, NEW.device_memory_mb, NEW.threads, NEW.version))
  EXECUTE FUNCTION moe4_notify_workers();
