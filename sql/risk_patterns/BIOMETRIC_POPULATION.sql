-- id: BIOMETRIC_POPULATION
-- title: Biometric or population-data system with a PRC-linked party
-- severity: high
-- applies_to: deal
-- basis: R3
-- reasoning: Face recognition, licence-plate recognition and links to national ID or population registers aggregate data on a whole society, the visibility the report warns lets the party-state subvert democratic debate.
-- Matches a deal with a face_recognition, licence_plate_recognition or national_id_link component
-- and a PRC-linked party in any role but buyer (vendor, contractor, financier...). Critical when
-- face recognition and a national ID / population register come together.
WITH biometric AS (
    SELECT c.entity_kind, c.entity_id, jsonb_object_agg(c.tag, c.matched_words) AS components
      FROM risk.deal_components c
     WHERE c.tag IN ('face_recognition', 'licence_plate_recognition', 'national_id_link')
     GROUP BY c.entity_kind, c.entity_id
)
SELECT e.entity_kind,
       e.entity_id,
       CASE WHEN b.components ? 'face_recognition' AND b.components ? 'national_id_link' THEN 'critical' END AS severity,
       jsonb_build_object(
           'reason', (SELECT string_agg(replace(k, '_', ' '), ', ' ORDER BY k) FROM jsonb_object_keys(b.components) AS k)
                     || ' with PRC-linked ' || p.names,
           'components', b.components,
           'prc_parties', p.parties
       ) AS evidence
  FROM risk.entities e
  JOIN biometric b USING (entity_kind, entity_id)
  JOIN risk.prc_party_evidence p USING (entity_kind, entity_id)
 WHERE e.is_present
