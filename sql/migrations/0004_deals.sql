-- 0004 deals: smart-city, safe-city and other digital-infrastructure deals (AidData GCDF, World
-- Bank Major Contract Awards), their parties and components, and news leads (GDELT).
-- Applied by Alembic revision 0004 (plugins/dsrwatch/warehouse/migrations/versions).
-- Several sources write the deal tables: each owns the rows with its name in `source` (the
-- loader's scope column), so one source never removes another's. Arrays are jsonb: their text
-- form is immutable, so the generated hash can use it. Dates and timestamps enter the hash as day
-- or epoch numbers: their text form depends on the session's DateStyle and TimeZone.

-- core: deals -------------------------------------------------------------------------------
CREATE TABLE core.deals (
    source                  text NOT NULL,
    deal_id                 text NOT NULL,
    release                 text,
    title                   text NOT NULL,
    description             text,
    status                  text,
    recipient               text,
    recipient_iso3          char(3),
    commitment_year         integer,
    signing_date            date,
    sector_name             text,
    flow_type               text,
    amount_usd              numeric,
    amount_basis            text,
    project_id              text,
    source_urls             jsonb NOT NULL DEFAULT '[]',
    mentioned_organisations jsonb NOT NULL DEFAULT '[]',
    relevance               jsonb NOT NULL DEFAULT '[]',
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(release) || '|' || quote_nullable(title) || '|' || quote_nullable(description) || '|' || quote_nullable(status) || '|' || quote_nullable(recipient) || '|' || quote_nullable(recipient_iso3::text) || '|' || quote_nullable(commitment_year::text) || '|' || quote_nullable((signing_date - DATE '1970-01-01')::text) || '|' || quote_nullable(sector_name) || '|' || quote_nullable(flow_type) || '|' || quote_nullable(amount_usd::text) || '|' || quote_nullable(amount_basis) || '|' || quote_nullable(project_id) || '|' || quote_nullable(source_urls::text) || '|' || quote_nullable(mentioned_organisations::text) || '|' || quote_nullable(relevance::text))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (source, deal_id)
);
COMMENT ON TABLE core.deals IS 'One row per digital-infrastructure deal (project, loan or contract) in a source; only projects the source module judges digital infrastructure are kept (see relevance).';
COMMENT ON COLUMN core.deals.source IS 'The DSR Watch source (aiddata, worldbank_contracts); the scope column: each source removes only its own rows.';
COMMENT ON COLUMN core.deals.deal_id IS 'The source''s id: AidData Record ID, World Bank contract number.';
COMMENT ON COLUMN core.deals.release IS 'Dataset release the row was last read from (AidData "3.0"); a new release shows as a modification of this column.';
COMMENT ON COLUMN core.deals.signing_date IS 'Contract signing date (World Bank); AidData gives the commitment year.';
COMMENT ON COLUMN core.deals.amount_basis IS 'What amount_usd is: "constant 2021 USD" (AidData) or "nominal USD" (World Bank).';
COMMENT ON COLUMN core.deals.mentioned_organisations IS 'Registry ids of PRC-linked organisations named in the title or description (not necessarily parties).';
COMMENT ON COLUMN core.deals.relevance IS 'Why the deal was kept, e.g. ["sector:COMMUNICATIONS", "component:safe_city", "prc_vendor:huawei-technologies"].';

CREATE TABLE core.deal_parties (
    source          text NOT NULL,
    deal_id         text NOT NULL,
    role            text NOT NULL CHECK (role IN ('buyer', 'vendor', 'contractor', 'financier', 'supplier', 'operator', 'owner')),
    organisation_id text NOT NULL,
    source_name     text NOT NULL,
    party_type      text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(source_name) || '|' || quote_nullable(party_type))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (source, deal_id, role, organisation_id)
);
CREATE INDEX deal_parties_organisation_idx ON core.deal_parties (organisation_id);
COMMENT ON TABLE core.deal_parties IS 'Who is in a deal and as what: buyer (recipient government or agency), vendor, contractor, financier.';
COMMENT ON COLUMN core.deal_parties.source_name IS 'The name as the source writes it ("; "-joined when two spellings resolve to one organisation).';
COMMENT ON COLUMN core.deal_parties.party_type IS 'The source''s own type for the party, e.g. AidData "Chinese State-owned Company", "State-owned Policy Bank".';

CREATE TABLE core.deal_components (
    source          text NOT NULL,
    deal_id         text NOT NULL,
    tag             text NOT NULL,
    matched_words   jsonb NOT NULL,
    matched_in      jsonb NOT NULL,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(matched_words::text) || '|' || quote_nullable(matched_in::text))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (source, deal_id, tag)
);
COMMENT ON TABLE core.deal_components IS 'Components a deal contains, from the taxonomy plugins/dsrwatch/reference/deal_components.yaml, with the words that matched.';
COMMENT ON COLUMN core.deal_components.matched_words IS 'The words of the source text that matched the tag, e.g. ["facial recognition", "videovigilancia"].';
COMMENT ON COLUMN core.deal_components.matched_in IS 'Where they were found: "title", "description", "buyer" (party names).';

-- core: news leads ----------------------------------------------------------------------------
CREATE TABLE core.news_leads (
    url                 text PRIMARY KEY,
    title               text,
    seen_at             timestamptz,
    domain              text,
    language            text,
    source_country      text,
    source_country_iso3 char(3),
    queries             jsonb NOT NULL DEFAULT '[]',
    vendor_ids          jsonb NOT NULL DEFAULT '[]',
    tags                jsonb NOT NULL DEFAULT '{}',
    countries           jsonb NOT NULL DEFAULT '[]',
    linked_deal_id      text,
    link_confidence     text CHECK (link_confidence IN ('high', 'medium', 'low')),
    link_reason         text,
    -- hash of the value columns, kept by PostgreSQL itself (the merge compares it)
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(title) || '|' || quote_nullable(extract(epoch FROM seen_at AT TIME ZONE 'UTC')::text) || '|' || quote_nullable(domain) || '|' || quote_nullable(language) || '|' || quote_nullable(source_country) || '|' || quote_nullable(source_country_iso3::text) || '|' || quote_nullable(queries::text) || '|' || quote_nullable(vendor_ids::text) || '|' || quote_nullable(tags::text) || '|' || quote_nullable(countries::text) || '|' || quote_nullable(linked_deal_id) || '|' || quote_nullable(link_confidence) || '|' || quote_nullable(link_reason))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    CHECK ((linked_deal_id IS NULL) = (link_confidence IS NULL))
);
COMMENT ON TABLE core.news_leads IS 'News articles (GDELT DOC 2.0) that may report a smart/safe-city deal with a PRC vendor. Leads only: never a confirmed deal on their own.';
COMMENT ON COLUMN core.news_leads.linked_deal_id IS 'risk entity id ("<source>:<deal_id>") of the known deal the lead most likely reports, when country, vendor and component all match.';
COMMENT ON COLUMN core.news_leads.link_confidence IS 'high: country named in the title, one best deal; medium: country only from the publisher, or several equally good deals; low: both.';
