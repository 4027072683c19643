#!/usr/bin/env bash
# Warehouse initialisation for docker-compose.yaml (service `warehouse`). The postgres image runs it
# once, when the data volume is created, as the server's superuser (POSTGRES_USER) in the database
# POSTGRES_DB (dsrwatch); it never runs again on an existing volume.
#
#   dsr          the pipeline's login (DSR_WAREHOUSE_URL): no superuser, no CREATEDB, no CREATEROLE;
#                owner of the database dsrwatch, so its migrations create and own the schemas
#   dsr_analyst  NOLOGIN, read-only on the analyst views (migrations 0001 and 0007)
#
# The superuser stays for maintenance, e.g. an analyst login:
#   CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE dsr_analyst;
# Then migration 0007 runs here as the superuser, for what the owner cannot do itself (EXECUTE on the
# large-object functions); it runs again, as dsr, with the other migrations.
set -Eeo pipefail

hardening_sql="${DSR_ROLE_HARDENING_SQL:-/dsr-sql/0007_role_hardening.sql}"
if [ -z "${DSR_WAREHOUSE_PASSWORD:-}" ]; then
    echo "warehouse-init: DSR_WAREHOUSE_PASSWORD is not set: cannot create the login dsr" >&2
    exit 1
fi
if [ ! -r "$hardening_sql" ]; then
    echo "warehouse-init: $hardening_sql is missing (docker-compose.yaml mounts it from sql/migrations)" >&2
    exit 1
fi

# The password travels through the environment (\getenv), never on a command line.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set=hardening_sql="$hardening_sql" <<'SQL'
\getenv dsr_password DSR_WAREHOUSE_PASSWORD
\getenv database POSTGRES_DB
CREATE ROLE dsr LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'dsr_password';
CREATE ROLE dsr_analyst NOLOGIN;
ALTER DATABASE :"database" OWNER TO dsr;
-- Only the superuser connects to the maintenance databases (an analyst could make temporary tables
-- or large objects there).
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
\i :hardening_sql
SQL
echo "warehouse-init: login dsr owns database $POSTGRES_DB; role dsr_analyst created; roles hardened"
