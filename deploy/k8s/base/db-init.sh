#!/usr/bin/env bash
# Creates moe4's database and its least-privilege roles, as a PostgreSQL
# superuser. Idempotent.
#   moe4          LOGIN; owns database moe4; the coordinator connects as it and
#                 applies the schema migrations itself at start-up.
#   moe4_reader   LOGIN; may read the result views and nothing else (the
#                 migrations grant it SELECT on the views).
#
#   deploy/db-init.sh "host=127.0.0.1 port=5432 user=postgres dbname=postgres" [DBNAME]
# Passwords: set them afterwards (ALTER ROLE ... PASSWORD) when the server is
# not trust-on-loopback; see docs/deploy.md.
set -euo pipefail
admin_url=${1:?usage: db-init.sh SUPERUSER_CONNINFO [DBNAME]}
db=${2:-moe4}
[[ "$db" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || { echo "db-init: invalid database name '$db'" >&2; exit 2; }
psql "$admin_url" -v ON_ERROR_STOP=1 -qtA >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moe4') THEN CREATE ROLE moe4 LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moe4_reader') THEN CREATE ROLE moe4_reader LOGIN; END IF;
END \$\$;
-- The coordinator's migration creates moe4_reader NOLOGIN when it runs first
-- (a cluster shared with an earlier database): logins are what db-init promises.
ALTER ROLE moe4 LOGIN;
ALTER ROLE moe4_reader LOGIN;
SELECT 'CREATE DATABASE $db OWNER moe4' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
REVOKE ALL ON DATABASE $db FROM PUBLIC;
GRANT CONNECT ON DATABASE $db TO moe4, moe4_reader;
SQL
# The reader must not create objects in the public schema (PG 15 already
# revokes CREATE from PUBLIC; this keeps older servers equally tight).
psql "${admin_url/dbname=postgres/dbname=$db}" -v ON_ERROR_STOP=1 -qtA >/dev/null <<SQL
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO moe4;
SQL
echo "db-init: database $db ready (roles moe4, moe4_reader)"
