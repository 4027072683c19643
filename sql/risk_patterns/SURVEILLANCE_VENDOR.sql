-- id: SURVEILLANCE_VENDOR
-- title: Smart/safe-city or public-security system with a PRC vendor or integrator
-- severity: high
-- applies_to: deal
-- basis: R1, R3, R5
-- reasoning: A firm bound by the PRC's National Intelligence Law (2017, art. 7 and 14) builds or integrates a system that watches a city's public space, giving the party-state a path to data on a whole society.
-- A surveillance system is a deal with a safe_city, smart_city, face_recognition or
-- licence_plate_recognition component, or with cctv / command_centre serving police or security
-- bodies (police_security). The PRC-linked party must build it: vendor, supplier, contractor or
-- operator (a PRC lender alone is PRC_FINANCE). Hong Kong / Macau-linked firms only: medium.
WITH systems AS (
    SELECT c.entity_kind, c.entity_id, jsonb_object_agg(c.tag, c.matched_words) AS components
      FROM risk.deal_components c
     WHERE c.tag IN ('safe_city', 'smart_city', 'face_recognition', 'licence_plate_recognition', 'cctv',
                     'command_centre', 'police_security')
     GROUP BY c.entity_kind, c.entity_id
    HAVING bool_or(c.tag IN ('safe_city', 'smart_city', 'face_recognition', 'licence_plate_recognition'))
        OR (bool_or(c.tag IN ('cctv', 'command_centre')) AND bool_or(c.tag = 'police_security'))
), builders AS (
    SELECT p.entity_kind, p.entity_id,
           bool_or(p.jurisdiction = 'PRC') AS mainland,
           string_agg(DISTINCT p.party_name || ' (' || p.role || ')', '; ' ORDER BY p.party_name || ' (' || p.role || ')') AS names,
           jsonb_agg(DISTINCT jsonb_build_object('organisation_id', p.organisation_id, 'as_written', p.party_name,
                     'role', p.role, 'jurisdiction', p.jurisdiction, 'ownership', p.ownership)) AS parties
      FROM risk.prc_parties p
     WHERE p.role IN ('vendor', 'supplier', 'contractor', 'operator')
     GROUP BY p.entity_kind, p.entity_id
)
SELECT e.entity_kind,
       e.entity_id,
       CASE WHEN b.mainland THEN NULL ELSE 'medium' END AS severity,
       jsonb_build_object(
           'reason', 'surveillance system ('
                     || (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(s.components) AS k)
                     || ') built or integrated by PRC-linked ' || b.names,
           'components', s.components,
           'prc_builders', b.parties
       ) AS evidence
  FROM risk.entities e
  JOIN systems s USING (entity_kind, entity_id)
  JOIN builders b USING (entity_kind, entity_id)
 WHERE e.is_present
