-- Submarine cables as risk entities (contract: sql/risk_patterns/README.md).

CREATE VIEW risk.entities__submarine_cable AS
SELECT 'submarine_cable'::text AS entity_kind,
       c.source_id AS entity_id,
       c.name AS entity_name,
       (SELECT category FROM risk.entity_categories WHERE entity_kind = 'submarine_cable') AS category,
       (SELECT source FROM ops.source_tables WHERE table_name = 'core.submarine_cables') AS source,
       coalesce((SELECT array_agg(DISTINCT lp.country_iso3::text ORDER BY lp.country_iso3::text)
                   FROM core.cable_landing_points clp
                   JOIN core.landing_points lp ON lp.source_id = clp.landing_point_id
                  WHERE clp.cable_id = c.source_id AND clp.removed_at IS NULL AND lp.country_iso3 IS NOT NULL),
                '{}') AS countries,
       c.rfs_year AS project_year,
       'https://www.submarinecablemap.com/submarine-cable/' || c.source_id AS url,
       c.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM risk.closed_entities k
                                             WHERE k.entity_kind = 'submarine_cable' AND k.entity_id = c.source_id)
           AS is_present
  FROM core.submarine_cables c;

CREATE VIEW risk.parties__submarine_cable AS
SELECT 'submarine_cable'::text AS entity_kind, p.cable_id AS entity_id, p.role, p.organisation_id,
       p.source_name AS party_name
  FROM core.cable_parties p
 WHERE p.removed_at IS NULL;
