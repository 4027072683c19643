-- id: PRC_OWNER
-- title: PRC-linked owner or operator
-- severity: high
-- applies_to: submarine_cable, cloud_region, data_centre
-- basis: R1, R2
-- reasoning: Owning or operating infrastructure abroad gives the PRC party-state control of, and access to, the data that crosses it, and market access its firms can use for the state's ends.
-- Severity by ownership: PRC state (any jurisdiction) high, PRC private or state-influenced medium,
-- Hong Kong / Macau private low. Entities located only in PRC territory (mainland China, Hong
-- Kong, Macau: risk.entities_abroad, the one territory rule) are not "abroad".
WITH owners AS (
    SELECT p.*,
           CASE WHEN p.ownership = 'state' THEN 3
                WHEN p.jurisdiction = 'PRC' THEN 2
                ELSE 1 END AS weight
      FROM risk.prc_parties p
      JOIN risk.entities e USING (entity_kind, entity_id)
      JOIN risk.entities_abroad USING (entity_kind, entity_id)
     WHERE e.is_present AND p.role IN ('owner', 'operator')
)
SELECT entity_kind,
       entity_id,
       (ARRAY['low', 'medium', 'high'])[max(weight)] AS severity,
       jsonb_build_object(
           'reason', 'owned or operated by ' || string_agg(DISTINCT organisation_name || ' (' || jurisdiction
                     || ', ' || ownership || ')', '; '),
           'owners', jsonb_agg(DISTINCT jsonb_build_object(
               'organisation_id', organisation_id, 'name', organisation_name, 'as_written', party_name,
               'role', role, 'jurisdiction', jurisdiction, 'ownership', ownership, 'group', group_name))
       ) AS evidence
  FROM owners
 GROUP BY entity_kind, entity_id
