-- 0001 foundation: the raw, core, ops and analyst schemas, and the submarine-cable tables.
-- Applied by Alembic revision 0001 (plugins/dsrwatch/warehouse/migrations/versions).

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS analyst;

COMMENT ON SCHEMA raw IS 'Every fetched payload, exactly as the source sent it, with provenance.';
COMMENT ON SCHEMA core IS 'Normalised entities: one row per real-world thing, never deleted, with change history.';
COMMENT ON SCHEMA ops IS 'Operational ledgers: one row per source run, incremental cursors.';
COMMENT ON SCHEMA analyst IS 'Documented views for analysts (read-only role dsr_analyst).';

-- ops ---------------------------------------------------------------------------------------
CREATE TABLE ops.source_runs (
    run_id          bigserial PRIMARY KEY,
    source          text NOT NULL,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    fetch_mode      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    fetched_at      timestamptz,
    finished_at     timestamptz,
    requests        integer NOT NULL DEFAULT 0,
    bytes_fetched   bigint NOT NULL DEFAULT 0,
    entities_parsed integer,
    added           integer,
    modified        integer,
    removed         integer,
    is_baseline     boolean,
    error           text,
    airflow_run_id  text,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX source_runs_source_idx ON ops.source_runs (source, run_id DESC);
COMMENT ON TABLE ops.source_runs IS 'One row per source run: what was fetched, what changed, how long it took, and why it failed.';

CREATE TABLE ops.source_cursors (
    source      text PRIMARY KEY,
    cursor      jsonb NOT NULL,
    run_id      bigint NOT NULL REFERENCES ops.source_runs,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.source_cursors IS 'Incremental cursor of each source, advanced only by a successful load.';

CREATE TABLE ops.applied_views (
    file_name   text PRIMARY KEY,
    sha256      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- raw ---------------------------------------------------------------------------------------
CREATE TABLE raw.bodies (
    sha256          text PRIMARY KEY,
    size_bytes      integer NOT NULL,
    body            bytea NOT NULL,
    first_stored_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE raw.bodies IS 'Response bodies, stored once per distinct content (sha256).';

CREATE TABLE raw.http_responses (
    response_id     bigserial PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES ops.source_runs,
    source          text NOT NULL,
    url             text NOT NULL,
    fetched_at      timestamptz NOT NULL,
    http_status     integer NOT NULL,
    etag            text,
    last_modified   text,
    content_type    text,
    sha256          text NOT NULL REFERENCES raw.bodies,
    replayed_from   text,
    not_modified    boolean NOT NULL DEFAULT false
);
CREATE INDEX http_responses_run_idx ON raw.http_responses (run_id);
CREATE INDEX http_responses_url_idx ON raw.http_responses (url, response_id DESC);
COMMENT ON TABLE raw.http_responses IS 'Every fetch with its provenance; a 304 points at the body it confirmed.';

-- core: change history shared by every entity table -----------------------------------------
-- No foreign key on run_id and a BRIN index: a baseline load writes one row per entity, and a
-- per-row FK trigger or a second B-tree would double its cost. run_id only ever grows.
CREATE TABLE core.entity_changes (
    change_id       bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000) PRIMARY KEY,
    run_id          bigint NOT NULL,
    source          text NOT NULL,
    entity_table    text NOT NULL,
    entity_key      text NOT NULL,
    change          text NOT NULL CHECK (change IN ('added', 'modified', 'removed', 'restored')),
    changed_columns jsonb,
    changed_at      timestamptz NOT NULL
);
CREATE INDEX entity_changes_entity_idx ON core.entity_changes (entity_table, entity_key);
CREATE INDEX entity_changes_run_idx ON core.entity_changes USING brin (run_id);
COMMENT ON TABLE core.entity_changes IS 'History of every added, modified, removed or restored entity; changed_columns holds {column: [old, new]}.';

-- core: organisations (shared by all sources) -----------------------------------------------
CREATE TABLE core.organisations (
    organisation_id text PRIMARY KEY,
    name            text NOT NULL,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(name))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
COMMENT ON TABLE core.organisations IS 'One canonical row per real organisation; names in sources map here through core.organisation_aliases.';

CREATE TABLE core.organisation_aliases (
    alias           text PRIMARY KEY,
    organisation_id text NOT NULL REFERENCES core.organisations,
    match_method    text NOT NULL,
    match_score     numeric,
    review_candidate text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(organisation_id) || '|' || quote_nullable(match_method) || '|' || quote_nullable(match_score::text) || '|' || quote_nullable(review_candidate))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
COMMENT ON TABLE core.organisation_aliases IS 'Each spelling seen in a source and the organisation it resolves to, with how it was matched.';

-- core: submarine cables --------------------------------------------------------------------
CREATE TABLE core.submarine_cables (
    source_id       text PRIMARY KEY,
    name            text NOT NULL,
    length_km       numeric,
    rfs             text,
    rfs_year        integer,
    is_planned      boolean,
    url             text,
    notes           text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(name) || '|' || quote_nullable(length_km::text) || '|' || quote_nullable(rfs) || '|' || quote_nullable(rfs_year::text) || '|' || quote_nullable(is_planned::text) || '|' || quote_nullable(url) || '|' || quote_nullable(notes))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);

CREATE TABLE core.landing_points (
    source_id       text PRIMARY KEY,
    name            text NOT NULL,
    country_name    text,
    country_iso3    char(3),
    latitude        double precision,
    longitude       double precision,
    is_tbd          boolean,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(name) || '|' || quote_nullable(country_name) || '|' || quote_nullable(country_iso3::text) || '|' || quote_nullable(latitude::text) || '|' || quote_nullable(longitude::text) || '|' || quote_nullable(is_tbd::text))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);

CREATE TABLE core.cable_landing_points (
    cable_id         text NOT NULL,
    landing_point_id text NOT NULL,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5('')::uuid) STORED,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_changed_at  timestamptz NOT NULL DEFAULT now(),
    removed_at       timestamptz,
    PRIMARY KEY (cable_id, landing_point_id)
);

CREATE TABLE core.cable_parties (
    cable_id        text NOT NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'supplier')),
    organisation_id text NOT NULL,
    source_name     text NOT NULL,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(source_name))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (cable_id, role, organisation_id)
);

-- Analysts: a role with read access to the analyst views only. NOLOGIN: grant it to people.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dsr_analyst') THEN
        CREATE ROLE dsr_analyst NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA analyst TO dsr_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analyst GRANT SELECT ON TABLES TO dsr_analyst;
