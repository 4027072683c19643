-- Analyst views over the submarine-cable tables. Recreated whenever a view file changes.

CREATE VIEW analyst.organisations AS
SELECT o.organisation_id,
       o.name,
       coalesce(array_agg(DISTINCT a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases,
       coalesce(array_agg(DISTINCT a.match_method) FILTER (WHERE a.match_method IS NOT NULL), '{}') AS match_methods,
       o.first_seen_at
  FROM core.organisations o
  LEFT JOIN core.organisation_aliases a USING (organisation_id)
 GROUP BY o.organisation_id, o.name, o.first_seen_at;

COMMENT ON VIEW analyst.organisations IS
    'One row per canonical organisation found in any source, with every spelling that resolved to it.';
COMMENT ON COLUMN analyst.organisations.organisation_id IS 'Stable id: the registry id for known PRC-linked firms, else the normalised name as a slug.';
COMMENT ON COLUMN analyst.organisations.name IS 'Canonical name (the registry''s, or the first spelling seen in a source).';
COMMENT ON COLUMN analyst.organisations.aliases IS 'Every spelling seen in sources that resolves to this organisation.';
COMMENT ON COLUMN analyst.organisations.match_methods IS 'How the aliases were matched: registry-alias, registry-normalised, registry-fuzzy or source-name.';
COMMENT ON COLUMN analyst.organisations.first_seen_at IS 'When DSR Watch first saw this organisation in any source.';

CREATE VIEW analyst.landing_points AS
SELECT lp.source_id,
       lp.name,
       lp.country_name,
       lp.country_iso3,
       lp.latitude,
       lp.longitude,
       lp.is_tbd,
       (SELECT array_agg(clp.cable_id ORDER BY clp.cable_id)
          FROM core.cable_landing_points clp
         WHERE clp.landing_point_id = lp.source_id AND clp.removed_at IS NULL) AS cable_ids,
       lp.first_seen_at,
       CASE WHEN lp.removed_at IS NULL THEN greatest(lp.last_seen_at, last_fetch.at) ELSE lp.last_seen_at END AS last_seen_at,
       lp.removed_at
  FROM core.landing_points lp
  LEFT JOIN ops.table_last_fetch last_fetch ON last_fetch.table_name = 'core.landing_points';

COMMENT ON VIEW analyst.landing_points IS
    'Cable landing points from the TeleGeography Submarine Cable Map, with ISO country and coordinates. Source: TeleGeography Submarine Cable Map (CC BY-NC-SA 3.0).';
COMMENT ON COLUMN analyst.landing_points.source_id IS 'TeleGeography landing-point id (slug).';
COMMENT ON COLUMN analyst.landing_points.name IS 'Landing point name as published, usually "Town, Country".';
COMMENT ON COLUMN analyst.landing_points.country_name IS 'Country as the source spells it.';
COMMENT ON COLUMN analyst.landing_points.country_iso3 IS 'ISO 3166-1 alpha-3 code (pycountry, with explicit overrides for the source''s spellings); NULL if unknown.';
COMMENT ON COLUMN analyst.landing_points.latitude IS 'WGS84 latitude from landing-point-geo.json.';
COMMENT ON COLUMN analyst.landing_points.longitude IS 'WGS84 longitude from landing-point-geo.json.';
COMMENT ON COLUMN analyst.landing_points.is_tbd IS 'True when the landing site is still to be decided.';
COMMENT ON COLUMN analyst.landing_points.cable_ids IS 'Cables currently landing here (source ids).';
COMMENT ON COLUMN analyst.landing_points.first_seen_at IS 'When DSR Watch first saw the landing point.';
COMMENT ON COLUMN analyst.landing_points.last_seen_at IS 'The latest successful fetch that still contained it.';
COMMENT ON COLUMN analyst.landing_points.removed_at IS 'When it left the source (rows are never deleted); NULL while present.';

CREATE VIEW analyst.submarine_cables AS
SELECT c.source_id,
       c.name,
       c.rfs_year,
       c.is_planned,
       c.length_km,
       coalesce((SELECT array_agg(o.name ORDER BY o.name)
                   FROM core.cable_parties p JOIN core.organisations o USING (organisation_id)
                  WHERE p.cable_id = c.source_id AND p.role = 'owner' AND p.removed_at IS NULL), '{}') AS owners,
       coalesce((SELECT array_agg(o.name ORDER BY o.name)
                   FROM core.cable_parties p JOIN core.organisations o USING (organisation_id)
                  WHERE p.cable_id = c.source_id AND p.role = 'supplier' AND p.removed_at IS NULL), '{}') AS suppliers,
       coalesce((SELECT array_agg(DISTINCT lp.country_iso3::text ORDER BY lp.country_iso3::text)
                   FROM core.cable_landing_points clp JOIN core.landing_points lp ON lp.source_id = clp.landing_point_id
                  WHERE clp.cable_id = c.source_id AND clp.removed_at IS NULL AND lp.country_iso3 IS NOT NULL), '{}')
           AS landing_countries,
       c.rfs,
       c.url,
       c.notes,
       c.first_seen_at,
       CASE WHEN c.removed_at IS NULL THEN greatest(c.last_seen_at, last_fetch.at) ELSE c.last_seen_at END AS last_seen_at,
       c.removed_at
  FROM core.submarine_cables c
  LEFT JOIN ops.table_last_fetch last_fetch ON last_fetch.table_name = 'core.submarine_cables';

COMMENT ON VIEW analyst.submarine_cables IS
    'One row per submarine cable in the TeleGeography Submarine Cable Map, with owners, suppliers and landing countries. Source: TeleGeography Submarine Cable Map (CC BY-NC-SA 3.0).';
COMMENT ON COLUMN analyst.submarine_cables.source_id IS 'TeleGeography cable id (slug). A renamed cable appears as one removed and one added.';
COMMENT ON COLUMN analyst.submarine_cables.name IS 'Cable name as published.';
COMMENT ON COLUMN analyst.submarine_cables.rfs_year IS 'Ready-for-service year (planned cables: the expected year).';
COMMENT ON COLUMN analyst.submarine_cables.is_planned IS 'True for cables not yet in service.';
COMMENT ON COLUMN analyst.submarine_cables.length_km IS 'Length in km parsed from text such as "21,500 km"; NULL when the source gives none.';
COMMENT ON COLUMN analyst.submarine_cables.owners IS 'Canonical names of the owning organisations (consortium members).';
COMMENT ON COLUMN analyst.submarine_cables.suppliers IS 'Canonical names of the system suppliers (often empty in the source).';
COMMENT ON COLUMN analyst.submarine_cables.landing_countries IS 'ISO 3166-1 alpha-3 codes of the countries it lands in.';
COMMENT ON COLUMN analyst.submarine_cables.rfs IS 'Ready-for-service as free text, e.g. "2022 March".';
COMMENT ON COLUMN analyst.submarine_cables.url IS 'The cable''s own website, as listed by the source.';
COMMENT ON COLUMN analyst.submarine_cables.notes IS 'Source notes.';
COMMENT ON COLUMN analyst.submarine_cables.first_seen_at IS 'When DSR Watch first saw the cable.';
COMMENT ON COLUMN analyst.submarine_cables.last_seen_at IS 'The latest successful fetch that still contained it.';
COMMENT ON COLUMN analyst.submarine_cables.removed_at IS 'When it left the source (rows are never deleted); NULL while present.';
