-- id: DEMOCRACY_EXPOSURE
-- title: PRC-linked infrastructure in a democracy
-- severity: medium
-- applies_to: submarine_cable, cloud_region, data_centre, deal
-- basis: R6
-- reasoning: Democracies that rely on PRC-linked infrastructure are exposed; the report argues for shared infrastructure among democracies that excludes the PRC.
-- Regime 2 or 3 at the project year (latest data carried forward). High when a host country was
-- in NATO, the EU or Five Eyes that year.
WITH linked AS (
    SELECT DISTINCT entity_kind, entity_id FROM risk.prc_parties WHERE role <> 'buyer'
), hosts AS (
    SELECT h.*,
           (SELECT array_agg(g.group_id ORDER BY g.group_id) FROM core.country_group_members g
             WHERE g.iso3 = h.iso3 AND g.removed_at IS NULL
               AND coalesce(g.since_year, 0) <= h.evaluation_year
               AND (g.until_year IS NULL OR g.until_year > h.evaluation_year)) AS groups
      FROM risk.host_regimes h
      JOIN linked USING (entity_kind, entity_id)
     WHERE h.regime IN (2, 3) AND h.iso3 NOT IN (SELECT iso3 FROM risk.prc_territories)
)
SELECT entity_kind,
       entity_id,
       CASE WHEN bool_or(groups && ARRAY['NATO', 'EU', 'FIVE_EYES']) THEN 'high' ELSE 'medium' END AS severity,
       jsonb_build_object(
           'reason', 'PRC-linked infrastructure in ' || string_agg(iso3 || ' (' || regime_label
                     || coalesce(', ' || array_to_string(groups, '/'), '') || ')', ', ' ORDER BY iso3),
           'countries', jsonb_agg(jsonb_build_object('iso3', iso3, 'regime', regime, 'label', regime_label,
                                  'regime_year', regime_year, 'carried_forward', carried_forward,
                                  'groups', groups) ORDER BY iso3)
       ) AS evidence
  FROM hosts
 GROUP BY entity_kind, entity_id
