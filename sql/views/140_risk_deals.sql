-- Deals as risk entities (contract: sql/risk_patterns/README.md), and their components for the
-- deal patterns (SURVEILLANCE_VENDOR, BIOMETRIC_POPULATION, SECURITY_END_USER, PRC_FINANCE).
-- entity_id is "<source>:<deal_id>": AidData record ids and World Bank contract numbers could collide.

CREATE VIEW risk.entities__deal AS
SELECT 'deal'::text AS entity_kind,
       d.source || ':' || d.deal_id AS entity_id,
       d.title AS entity_name,
       (SELECT category FROM risk.entity_categories WHERE entity_kind = 'deal') AS category,
       d.source,
       CASE WHEN d.recipient_iso3 IS NULL THEN '{}'::text[] ELSE ARRAY[d.recipient_iso3::text] END AS countries,
       coalesce(d.commitment_year, extract(year FROM d.signing_date)::integer) AS project_year,
       d.source_urls ->> 0 AS url,
       d.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM risk.closed_entities k
                                             WHERE k.entity_kind = 'deal' AND k.entity_id = d.source || ':' || d.deal_id)
           AS is_present
  FROM core.deals d;

COMMENT ON VIEW risk.entities__deal IS 'Deals (core.deals) as risk entities: countries = recipient ISO3, project_year = commitment year (AidData) or signing year (World Bank).';

CREATE VIEW risk.parties__deal AS
SELECT 'deal'::text AS entity_kind,
       p.source || ':' || p.deal_id AS entity_id,
       p.role,
       p.organisation_id,
       p.source_name AS party_name
  FROM core.deal_parties p
 WHERE p.removed_at IS NULL;

COMMENT ON VIEW risk.parties__deal IS 'Deal parties (core.deal_parties) as risk parties: buyer, vendor, contractor, financier.';

CREATE VIEW risk.deal_components AS
SELECT 'deal'::text AS entity_kind,
       c.source || ':' || c.deal_id AS entity_id,
       c.tag,
       c.matched_words,
       c.matched_in
  FROM core.deal_components c
 WHERE c.removed_at IS NULL;

COMMENT ON VIEW risk.deal_components IS 'Components of each present deal (taxonomy tag, matched words, and where: title, description, buyer).';
