-- 002_reader_role: the `moe4_reader` role, which may read the result views
-- (migration 003 grants them) and nothing else.
--
-- Roles are cluster-wide while migrations run per database, so two databases
-- on one cluster (or two coordinators racing on first start) may both try to
-- create it: the existence check plus the duplicate_object handler make that
-- harmless. NOLOGIN: an operator enables logins with
--   ALTER ROLE moe4_reader LOGIN PASSWORD '...';
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'moe4_reader') THEN
    CREATE ROLE moe4_reader NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO moe4_reader;
-- Belt and braces: nothing in this schema is readable by PUBLIC by default,
-- and the reader must not inherit anything through it.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
