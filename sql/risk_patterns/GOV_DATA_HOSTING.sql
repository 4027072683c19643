-- id: GOV_DATA_HOSTING
-- title: Government data hosted on PRC-linked infrastructure
-- severity: high
-- applies_to: data_centre, cloud_region, deal (any entity kind with rows in core.government_hosting)
-- basis: R1, R3
-- reasoning: A government whose data sits in a data centre or cloud that a PRC-linked firm runs, owns, supplied or built puts it within reach of a party-state that can compel those firms to support its intelligence work, and with it visibility into the whole society that government serves.
--
-- Matches present entities with a current core.government_hosting row (any source) and a
-- PRC-linked party (risk.prc_parties) in a role that runs, owns, supplies or builds it; financing
-- alone (financier) matches at medium. Severity is critical when a customer is a police, security,
-- military or intelligence body. Government bodies in PRC territory (mainland China, Hong Kong,
-- Macau: risk.prc_territories, the one territory rule) are domestic and do not count.
WITH hosting AS (
    SELECT g.entity_kind, g.entity_id,
           jsonb_agg(DISTINCT jsonb_build_object(
               'government_body', g.government_body, 'body_type', g.body_type, 'country', g.country_iso3,
               'source', g.source, 'evidence_url', g.evidence_url)) AS bodies,
           bool_or(g.body_type IN ('police', 'security', 'military', 'intelligence')) AS security_customer,
           string_agg(DISTINCT g.government_body || coalesce(' (' || g.body_type || ')', ''), ', '
                      ORDER BY g.government_body || coalesce(' (' || g.body_type || ')', '')) AS customers
      FROM core.government_hosting g
     WHERE g.removed_at IS NULL
       AND (g.country_iso3 IS NULL OR g.country_iso3 NOT IN (SELECT iso3 FROM risk.prc_territories))
     GROUP BY g.entity_kind, g.entity_id
)
SELECT h.entity_kind,
       h.entity_id,
       CASE WHEN NOT p.runs_or_builds THEN 'medium'
            WHEN h.security_customer THEN 'critical' END AS severity,
       jsonb_build_object(
           'reason', format('%s hosts data of %s; PRC-linked %s', e.entity_name, h.customers, p.party_text),
           'government_bodies', h.bodies,
           'prc_parties', p.parties,
           'countries', e.countries) AS evidence
  FROM hosting h
  JOIN risk.prc_party_evidence p ON p.entity_kind = h.entity_kind AND p.entity_id = h.entity_id
  JOIN risk.entities e ON e.entity_kind = h.entity_kind AND e.entity_id = h.entity_id
 WHERE e.is_present
