-- 0007 role hardening: only the pipeline's own role and dsr_analyst may connect to the warehouse
-- database, and dsr_analyst reads the analyst views and nothing else - no temporary tables, no large
-- objects, no objects in the public schema, nothing in raw, core, ops or risk (it never had SELECT
-- there; its USAGE on schema risk goes too: the analyst views read risk.* with their owner's rights).
-- Applied by Alembic revision 0007 (plugins/dsrwatch/warehouse/migrations/versions).
--
-- Idempotent: every statement may run again. Run it again by hand after restoring the warehouse
-- into a new database - CREATE DATABASE ... TEMPLATE and pg_dump without --create do not carry
-- database privileges, while the Alembic version says 0007 is done.
--
-- Runs as a superuser (embedded server, tests) or as the database's owner without superuser
-- (docker-compose: user dsr). The large-object functions belong to the bootstrap superuser, so only
-- a superuser can revoke them: as the owner that part is skipped, with a WARNING while they are still
-- open to everyone (docker/warehouse-init runs this file as the superuser when compose creates the
-- warehouse, so there they are already closed). Roles that connect to other databases of the same
-- server are outside this file's reach.

DO $$
DECLARE
    db        text := current_database();
    me        text := current_user;
    is_super  boolean;
    lo_fn     regprocedure;
    lo_open   text[] := '{}';
BEGIN
    SELECT rolsuper INTO is_super FROM pg_roles WHERE rolname = me;
    IF NOT is_super
       AND NOT pg_has_role(me, (SELECT datdba FROM pg_database WHERE datname = db), 'MEMBER') THEN
        RAISE EXCEPTION 'role % neither owns database % nor is a superuser, so it cannot restrict who connects to it', me, db
            USING HINT = 'Run the migrations as the owner of the warehouse database (ALTER DATABASE ... OWNER TO ...) or as a superuser.';
    END IF;

    -- Connecting and temporary tables: nobody by default. The pipeline's role keeps both (loads are
    -- staged in temporary tables); a superuser needs no grant. dsr_analyst may connect, nothing more.
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db);
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM dsr_analyst', db);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dsr_analyst', db);
    IF NOT is_super THEN
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, me);
    END IF;

    -- Schema public: PostgreSQL 14 and older let every role create objects in it (15+ do not).
    -- Only its owner (pg_database_owner from 15 on) or a superuser can change that.
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public'
                 AND (is_super OR pg_has_role(me, nspowner, 'MEMBER'))) THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;

    -- Schema risk: the analyst views read it with their owner's rights; analysts need no USAGE.
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'risk') THEN
        REVOKE ALL ON SCHEMA risk FROM dsr_analyst;
        REVOKE ALL ON SCHEMA risk FROM PUBLIC;
    END IF;

    -- Large objects: every role that can connect may create them (and fill the disk); the project
    -- uses none. Revoking EXECUTE in this database leaves other databases of the server unchanged.
    FOR lo_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND (p.proname LIKE 'lo\_%' OR p.proname IN ('loread', 'lowrite'))
           AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
    LOOP
        IF is_super THEN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', lo_fn);
        ELSE
            lo_open := lo_open || lo_fn::text;
        END IF;
    END LOOP;
    IF cardinality(lo_open) > 0 THEN
        RAISE WARNING 'every role that can connect to % may still create large objects (%): only a superuser can revoke EXECUTE on them', db, array_to_string(lo_open, ', ')
            USING HINT = 'Run sql/migrations/0007_role_hardening.sql once as a superuser in this database.';
    END IF;
END
$$;
