-- id: SECURITY_END_USER
-- title: PRC-linked system for an interior ministry, police or intelligence body
-- severity: high
-- applies_to: deal
-- basis: R3, R4
-- reasoning: Systems built with PRC-linked firms for police and security bodies carry the party-state's definition of risk into how another state watches its own people.
-- The end user is found in the buyers' names (a police_security component matched in "buyer":
-- e.g. Ministry of Interior, National Police) or, at medium severity, in the project text of a
-- surveillance deal (police_security with safe_city, cctv, command_centre, face or plate
-- recognition). A PRC-linked party in any role but buyer is required.
WITH security AS (
    SELECT c.entity_kind, c.entity_id, c.matched_words, c.matched_in, c.matched_in ? 'buyer' AS named_buyer
      FROM risk.deal_components c
     WHERE c.tag = 'police_security'
), surveillance AS (
    SELECT DISTINCT c.entity_kind, c.entity_id
      FROM risk.deal_components c
     WHERE c.tag IN ('safe_city', 'cctv', 'command_centre', 'face_recognition', 'licence_plate_recognition')
), buyers AS (
    SELECT p.entity_kind, p.entity_id, jsonb_agg(DISTINCT p.party_name) AS names
      FROM risk.parties p
     WHERE p.role = 'buyer'
     GROUP BY p.entity_kind, p.entity_id
)
SELECT e.entity_kind,
       e.entity_id,
       CASE WHEN s.named_buyer THEN NULL ELSE 'medium' END AS severity,
       jsonb_build_object(
           'reason', CASE WHEN s.named_buyer
                          THEN 'bought by a police, interior or security body ('
                          ELSE 'serves police or security forces, per the project text (' END
                     || (SELECT string_agg(w, ', ') FROM jsonb_array_elements_text(s.matched_words) AS w)
                     || '); PRC-linked ' || p.names,
           'end_user_words', s.matched_words,
           'found_in', s.matched_in,
           'buyers', coalesce(b.names, '[]'::jsonb),
           'prc_parties', p.parties
       ) AS evidence
  FROM risk.entities e
  JOIN security s USING (entity_kind, entity_id)
  JOIN risk.prc_party_evidence p USING (entity_kind, entity_id)
  LEFT JOIN buyers b USING (entity_kind, entity_id)
 WHERE e.is_present
   AND (s.named_buyer OR EXISTS (SELECT 1 FROM surveillance v
                                  WHERE v.entity_kind = e.entity_kind AND v.entity_id = e.entity_id))
