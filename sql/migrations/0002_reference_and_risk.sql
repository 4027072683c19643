-- 0002 reference data (PRC-linked organisations, country groups, regimes) and the risk engine.
-- Array and JSON columns are jsonb: their text form is immutable, so the generated hash can use it.

-- reference ----------------------------------------------------------------------------------
CREATE TABLE core.prc_organisations (
    organisation_id text PRIMARY KEY,
    name            text NOT NULL,
    jurisdiction    text NOT NULL CHECK (jurisdiction IN ('PRC', 'Hong Kong', 'Macau')),
    ownership       text NOT NULL CHECK (ownership IN ('state', 'state-influenced', 'private')),
    parent_id       text,
    group_id        text NOT NULL,
    sectors         jsonb NOT NULL DEFAULT '[]',
    roles_note      text,
    fact_sources    jsonb NOT NULL DEFAULT '{}',
    notes           text,
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(name) || '|' || quote_nullable(jurisdiction) || '|' || quote_nullable(ownership) || '|' || quote_nullable(parent_id) || '|' || quote_nullable(group_id) || '|' || quote_nullable(sectors::text) || '|' || quote_nullable(roles_note) || '|' || quote_nullable(fact_sources::text) || '|' || quote_nullable(notes))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
COMMENT ON TABLE core.prc_organisations IS 'Registry of PRC-, Hong Kong- and Macau-linked organisations (seed: plugins/dsrwatch/reference/prc_organisations.yaml); group_id is the top of the parent chain.';

CREATE TABLE core.country_group_members (
    group_id        text NOT NULL,
    iso3            char(3) NOT NULL,
    group_name      text NOT NULL,
    since_year      integer,
    until_year      integer,
    source_url      text,
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(group_name) || '|' || quote_nullable(since_year::text) || '|' || quote_nullable(until_year::text) || '|' || quote_nullable(source_url))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (group_id, iso3)
);
COMMENT ON TABLE core.country_group_members IS 'EU, NATO, Five Eyes, G7, OECD, Quad membership with years (seed: reference/country_groups.yaml).';

CREATE TABLE core.country_regimes (
    iso3            char(3) NOT NULL,
    year            integer NOT NULL,
    regime          smallint NOT NULL CHECK (regime BETWEEN 0 AND 3),
    entity_name     text,
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(regime::text) || '|' || quote_nullable(entity_name))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (iso3, year)
);
COMMENT ON TABLE core.country_regimes IS 'V-Dem Regimes of the World via Our World in Data: 0 closed autocracy, 1 electoral autocracy, 2 electoral democracy, 3 liberal democracy.';

-- risk ---------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS risk;
COMMENT ON SCHEMA risk IS 'Risk patterns, flags with evidence and their lifecycle.';

CREATE TABLE risk.patterns (
    pattern_id  text PRIMARY KEY,
    title       text NOT NULL,
    severity    text NOT NULL,
    applies_to  text NOT NULL,
    basis       text NOT NULL,
    reasoning   text NOT NULL,
    file_name   text NOT NULL,
    sha256      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE risk.patterns IS 'The pattern files of sql/risk_patterns as last run (header fields and file digest).';

CREATE TABLE risk.flags (
    flag_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pattern_id        text NOT NULL,
    entity_kind       text NOT NULL,
    entity_id         text NOT NULL,
    entity_name       text,
    severity          text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    evidence          jsonb NOT NULL,
    first_flagged_at  timestamptz NOT NULL,
    last_confirmed_at timestamptz NOT NULL,
    resolved_at       timestamptz,
    last_reopened_at  timestamptz,
    times_reopened    integer NOT NULL DEFAULT 0,
    is_baseline       boolean NOT NULL,
    opened_run_id     bigint NOT NULL,
    last_run_id       bigint NOT NULL,
    UNIQUE (pattern_id, entity_kind, entity_id)
);
COMMENT ON TABLE risk.flags IS 'One row per (pattern, entity) that ever matched; resolved_at is set while the match is gone.';

CREATE TABLE risk.flag_events (
    event_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flag_id           bigint NOT NULL REFERENCES risk.flags,
    run_id            bigint NOT NULL,
    event             text NOT NULL CHECK (event IN ('opened', 'resolved', 'reopened', 'severity_raised', 'severity_lowered')),
    severity          text NOT NULL,
    previous_severity text,
    evidence          jsonb,
    happened_at       timestamptz NOT NULL
);
CREATE INDEX flag_events_flag_idx ON risk.flag_events (flag_id);
CREATE INDEX flag_events_time_idx ON risk.flag_events (happened_at);
COMMENT ON TABLE risk.flag_events IS 'Lifecycle history of every flag: opened, resolved, reopened, severity raised or lowered.';

CREATE TABLE risk.source_evaluations (
    source             text PRIMARY KEY,
    first_evaluated_at timestamptz NOT NULL,
    first_run_id       bigint NOT NULL
);
COMMENT ON TABLE risk.source_evaluations IS 'When the engine first evaluated entities of each source: flags opened then are the baseline.';

GRANT USAGE ON SCHEMA risk TO dsr_analyst;

-- Each entity kind contributes views risk.entities__<kind> and risk.parties__<kind> (sql/views);
-- this builds the union of all contributions, so a new kind needs no change to shared views.
CREATE FUNCTION risk.create_union_view(view_name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    parts text;
BEGIN
    SELECT string_agg(format('SELECT * FROM risk.%I', table_name), ' UNION ALL ' ORDER BY table_name)
      INTO parts
      FROM information_schema.views
     WHERE table_schema = 'risk' AND table_name LIKE view_name || '\_\_%';
    IF parts IS NULL THEN
        RAISE EXCEPTION 'no views risk.%__<kind> to combine into risk.%', view_name, view_name;
    END IF;
    EXECUTE format('CREATE VIEW risk.%I AS %s', view_name, parts);
END
$$;
