-- id: PRC_FINANCE
-- title: Financed by a PRC policy or state bank
-- severity: medium
-- applies_to: deal
-- basis: R2
-- reasoning: Loans and export credit from PRC policy and state banks (China Exim Bank, China Development Bank, Sinosure, the big state commercial banks) tie the project to PRC contractors and give the party-state leverage over the borrower: market access serving state strategy.
-- A financier whose registry sectors include policy-bank, state-bank or export-credit-insurer.
-- High when a policy bank or Sinosure is among them (state-directed lending, usually tied to
-- PRC contractors); medium for state commercial banks alone.
WITH lenders AS (
    SELECT p.entity_kind, p.entity_id, p.organisation_id, p.party_name, p.jurisdiction, p.ownership,
           ARRAY(SELECT s FROM jsonb_array_elements_text(p.sectors) AS s
                  WHERE s IN ('policy-bank', 'state-bank', 'export-credit-insurer') ORDER BY s) AS kinds
      FROM risk.prc_parties p
     WHERE p.role = 'financier' AND p.sectors ?| ARRAY['policy-bank', 'state-bank', 'export-credit-insurer']
)
SELECT l.entity_kind,
       l.entity_id,
       CASE WHEN bool_or(l.kinds && ARRAY['policy-bank', 'export-credit-insurer']) THEN 'high' END AS severity,
       jsonb_build_object(
           'reason', 'financed by ' || string_agg(DISTINCT l.party_name || ' (' || array_to_string(l.kinds, ', ') || ')',
                                                  '; ' ORDER BY l.party_name || ' (' || array_to_string(l.kinds, ', ') || ')'),
           'financiers', jsonb_agg(DISTINCT jsonb_build_object('organisation_id', l.organisation_id,
                                   'as_written', l.party_name, 'kinds', to_jsonb(l.kinds),
                                   'jurisdiction', l.jurisdiction, 'ownership', l.ownership))
       ) AS evidence
  FROM lenders l
  JOIN risk.entities e USING (entity_kind, entity_id)
 WHERE e.is_present
 GROUP BY l.entity_kind, l.entity_id
