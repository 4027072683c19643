-- id: CHOKEPOINT
-- title: PRC-linked cable is one of at most two international cables of a country
-- severity: high
-- applies_to: submarine_cable
-- basis: R1
-- reasoning: Where a country has one or two international cables, a PRC-linked one carries a large share of its traffic abroad and is a point of control over its connectivity.
-- International cable: present, landing in at least two countries. PRC territory (mainland China,
-- Hong Kong, Macau: risk.prc_territories) is never an exposed country: a PRC-linked cable there is
-- no foreign dependence.
WITH international AS (
    SELECT entity_id, countries FROM risk.entities
     WHERE entity_kind = 'submarine_cable' AND is_present AND cardinality(countries) >= 2
), per_country AS (
    SELECT c.iso3, count(*) AS international_cables
      FROM international i CROSS JOIN LATERAL unnest(i.countries) AS c(iso3)
     GROUP BY c.iso3
), prc_linked AS (
    SELECT entity_id, string_agg(DISTINCT organisation_name || ' (' || role || ')', '; ') AS parties
      FROM risk.prc_parties
     WHERE entity_kind = 'submarine_cable' AND role IN ('owner', 'operator', 'supplier')
     GROUP BY entity_id
)
SELECT 'submarine_cable' AS entity_kind,
       i.entity_id,
       NULL::text AS severity,
       jsonb_build_object(
           'reason', 'one of at most two international cables of '
                     || string_agg(pc.iso3 || ' (' || pc.international_cables || ')', ', ' ORDER BY pc.iso3)
                     || '; PRC-linked through ' || min(l.parties),
           'countries', jsonb_object_agg(pc.iso3, pc.international_cables),
           'prc_parties', min(l.parties)
       ) AS evidence
  FROM international i
  JOIN prc_linked l USING (entity_id)
  CROSS JOIN LATERAL unnest(i.countries) AS c(iso3)
  JOIN per_country pc ON pc.iso3 = c.iso3
 WHERE pc.international_cables <= 2 AND pc.iso3 NOT IN (SELECT iso3 FROM risk.prc_territories)
 GROUP BY i.entity_id
