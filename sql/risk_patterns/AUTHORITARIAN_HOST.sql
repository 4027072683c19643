-- id: AUTHORITARIAN_HOST
-- title: PRC-linked infrastructure hosted by an autocracy
-- severity: medium
-- applies_to: submarine_cable, cloud_region, data_centre, deal
-- basis: R6
-- reasoning: Autocracies adopting PRC infrastructure spread the alternative system the report describes; a modifier that raises the entity's score (x1.5) rather than a risk on its own.
-- Host regime: V-Dem Regimes of the World 0 (closed) or 1 (electoral autocracy) at the project
-- year, the latest data year carried forward (and said so). Mainland China, Hong Kong and Macau
-- are the PRC itself, not hosts.
WITH linked AS (
    SELECT DISTINCT entity_kind, entity_id FROM risk.prc_parties WHERE role <> 'buyer'
)
SELECT h.entity_kind,
       h.entity_id,
       NULL::text AS severity,
       jsonb_build_object(
           'reason', 'hosted by ' || string_agg(h.iso3 || ' (' || h.regime_label || ' in ' || h.regime_year
                     || CASE WHEN h.carried_forward THEN ', latest data for ' || h.evaluation_year ELSE '' END
                     || ')', ', ' ORDER BY h.iso3),
           'countries', jsonb_agg(jsonb_build_object('iso3', h.iso3, 'regime', h.regime, 'label', h.regime_label,
                                  'regime_year', h.regime_year, 'evaluation_year', h.evaluation_year,
                                  'carried_forward', h.carried_forward) ORDER BY h.iso3)
       ) AS evidence
  FROM risk.host_regimes h
  JOIN linked USING (entity_kind, entity_id)
 WHERE h.regime IN (0, 1) AND h.iso3 NOT IN (SELECT iso3 FROM risk.prc_territories)
 GROUP BY h.entity_kind, h.entity_id
