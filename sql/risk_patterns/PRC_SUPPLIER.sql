-- id: PRC_SUPPLIER
-- title: PRC-linked supplier of core infrastructure
-- severity: high
-- applies_to: submarine_cable, cloud_region, data_centre, deal
-- basis: R1, R5
-- reasoning: A firm bound by the PRC's National Intelligence Law (2017, art. 7 and 14) built or supplied the system, giving the party-state a path to its design, maintenance and data.
SELECT p.entity_kind,
       p.entity_id,
       CASE WHEN bool_or(p.jurisdiction = 'PRC' OR p.ownership = 'state') THEN 'high' ELSE 'medium' END AS severity,
       jsonb_build_object(
           'reason', 'built or supplied by ' || string_agg(DISTINCT p.organisation_name || ' (' || p.jurisdiction
                     || ', ' || p.ownership || ')', '; '),
           'suppliers', jsonb_agg(DISTINCT jsonb_build_object(
               'organisation_id', p.organisation_id, 'name', p.organisation_name, 'as_written', p.party_name,
               'role', p.role, 'jurisdiction', p.jurisdiction, 'ownership', p.ownership, 'group', p.group_name))
       ) AS evidence
  FROM risk.prc_parties p
  JOIN risk.entities e USING (entity_kind, entity_id)
  JOIN risk.entities_abroad USING (entity_kind, entity_id)  -- built abroad: the one territory rule
 WHERE e.is_present AND p.role IN ('supplier', 'vendor', 'contractor')
 GROUP BY p.entity_kind, p.entity_id
