-- 0003 cloud regions (TeleGeography Cloud Infrastructure Map), data centres (PeeringDB facilities
-- and organisations) and the government customers of hosting that any source may record.
-- Applied by Alembic revision 0003 (plugins/dsrwatch/warehouse/migrations/versions).
-- Timestamps enter the generated hash as epoch seconds in UTC: timestamptz::text depends on the
-- session's TimeZone and DateStyle, so PostgreSQL would refuse it in a generated column.

-- core: cloud regions -------------------------------------------------------------------------
CREATE TABLE core.cloud_regions (
    provider                 text NOT NULL,
    -- the provider's region code; 'name:<region name>' when the source gives none (see COMMENT)
    region_code              text NOT NULL,
    metro                    text NOT NULL,
    region_name              text,
    country_name             text,
    country_iso3             char(3),
    latitude                 double precision,
    longitude                double precision,
    in_service               boolean,
    zones                    integer,
    provider_organisation_id text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(region_name) || '|' || quote_nullable(country_name) || '|' || quote_nullable(country_iso3::text) || '|' || quote_nullable(latitude::text) || '|' || quote_nullable(longitude::text) || '|' || quote_nullable(in_service::text) || '|' || quote_nullable(zones::text) || '|' || quote_nullable(provider_organisation_id))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (provider, region_code, metro)
);
COMMENT ON TABLE core.cloud_regions IS 'One row per (cloud provider, region code, metro) in the TeleGeography Cloud Infrastructure Map; exact duplicates in the source are collapsed.';
COMMENT ON COLUMN core.cloud_regions.region_code IS 'Provider region code as published (trimmed); when the source has none (planned regions), the token ''name:'' followed by the region name, so the key stays non-null and deterministic.';
COMMENT ON COLUMN core.cloud_regions.country_iso3 IS 'ISO3 of the country; Hong Kong and Macau metros get HKG / MAC although the source files them under "China".';

-- core: PeeringDB ---------------------------------------------------------------------------
CREATE TABLE core.peeringdb_facilities (
    facility_id              integer PRIMARY KEY,
    org_id                   integer,
    org_name                 text,
    name                     text NOT NULL,
    city                     text,
    country_iso2             text,
    country_iso3             char(3),
    latitude                 double precision,
    longitude                double precision,
    created                  timestamptz,
    updated                  timestamptz,
    status                   text,
    operator_organisation_id text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(org_id::text) || '|' || quote_nullable(org_name) || '|' || quote_nullable(name) || '|' || quote_nullable(city) || '|' || quote_nullable(country_iso2) || '|' || quote_nullable(country_iso3::text) || '|' || quote_nullable(latitude::text) || '|' || quote_nullable(longitude::text) || '|' || quote_nullable(extract(epoch FROM created AT TIME ZONE 'UTC')::text) || '|' || quote_nullable(extract(epoch FROM updated AT TIME ZONE 'UTC')::text) || '|' || quote_nullable(status) || '|' || quote_nullable(operator_organisation_id))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
CREATE INDEX peeringdb_facilities_org_idx ON core.peeringdb_facilities (org_id);
COMMENT ON TABLE core.peeringdb_facilities IS 'Every PeeringDB facility (data centre / colocation site), PRC-linked or not; which ones matter is decided in the views, through the operator''s organisation.';
COMMENT ON COLUMN core.peeringdb_facilities.org_name IS 'Operator name as written on the facility record when it last changed (the current name is in core.peeringdb_organisations).';
COMMENT ON COLUMN core.peeringdb_facilities.operator_organisation_id IS 'core.organisations id that org_name resolved to at load time.';

CREATE TABLE core.peeringdb_organisations (
    org_id          integer PRIMARY KEY,
    name            text NOT NULL,
    aka             text,
    name_long       text,
    website         text,
    city            text,
    country_iso2    text,
    country_iso3    char(3),
    created         timestamptz,
    updated         timestamptz,
    status          text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(name) || '|' || quote_nullable(aka) || '|' || quote_nullable(name_long) || '|' || quote_nullable(website) || '|' || quote_nullable(city) || '|' || quote_nullable(country_iso2) || '|' || quote_nullable(country_iso3::text) || '|' || quote_nullable(extract(epoch FROM created AT TIME ZONE 'UTC')::text) || '|' || quote_nullable(extract(epoch FROM updated AT TIME ZONE 'UTC')::text) || '|' || quote_nullable(status))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
COMMENT ON TABLE core.peeringdb_organisations IS 'Every PeeringDB organisation; facilities point here through org_id, and the current name resolves through core.organisation_aliases.';

-- core: government customers of hosting (any source, any entity kind) -----------------------
CREATE TABLE core.government_hosting (
    source          text NOT NULL,
    entity_kind     text NOT NULL CHECK (entity_kind ~ '^[a-z][a-z_]*$'),
    entity_id       text NOT NULL,
    government_body text NOT NULL,
    body_type       text CHECK (body_type IN ('government', 'police', 'security', 'military', 'intelligence',
                                              'judiciary', 'legislature', 'local', 'state_enterprise', 'other')),
    country_iso3    char(3),
    evidence_url    text,
    note            text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(body_type) || '|' || quote_nullable(country_iso3::text) || '|' || quote_nullable(evidence_url) || '|' || quote_nullable(note))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (source, entity_kind, entity_id, government_body)
);
CREATE INDEX government_hosting_entity_idx ON core.government_hosting (entity_kind, entity_id);
COMMENT ON TABLE core.government_hosting IS 'Government bodies whose data or systems an entity (data centre, cloud region, deal, ...) hosts, as some source reports it. Several sources write here: each owns the rows with its name in source (the loader''s scope column), so one source never removes another''s.';
COMMENT ON COLUMN core.government_hosting.source IS 'The DSR Watch source that recorded the row (its SourceSpec name); the EntityTable scope column.';
COMMENT ON COLUMN core.government_hosting.entity_kind IS 'risk.entities entity_kind: data_centre, cloud_region, deal, submarine_cable, ...';
COMMENT ON COLUMN core.government_hosting.entity_id IS 'risk.entities entity_id of that kind: PeeringDB facility id as text for data_centre, provider|region_code|metro for cloud_region, the source id otherwise.';
COMMENT ON COLUMN core.government_hosting.government_body IS 'The customer as the source names it, e.g. "Ministry of Interior" or "National Police".';
COMMENT ON COLUMN core.government_hosting.body_type IS 'government, police, security, military, intelligence, judiciary, legislature, local, state_enterprise or other; police/security/military/intelligence raise GOV_DATA_HOSTING to critical.';
COMMENT ON COLUMN core.government_hosting.country_iso3 IS 'Country of the government body (ISO3); the PRC''s own bodies (CHN) are domestic and not flagged.';
COMMENT ON COLUMN core.government_hosting.evidence_url IS 'Where the hosting relationship is documented.';
COMMENT ON COLUMN core.government_hosting.note IS 'Free text: what is hosted, dates, caveats.';
