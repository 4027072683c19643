-- id: VERTICAL_STACK
-- title: One PRC group holds several roles
-- severity: high
-- applies_to: submarine_cable, cloud_region, data_centre, deal
-- basis: R1, R2
-- reasoning: When one PRC group (or PRC state bodies together) owns, builds, finances or operates the same system, no independent party stands between the party-state and the infrastructure.
-- State-owned organisations count as one stack, "PRC state", whatever their group; vendors and
-- contractors count as suppliers.
WITH roles AS (
    SELECT p.entity_kind, p.entity_id,
           CASE WHEN p.ownership = 'state' THEN 'PRC state' ELSE coalesce(p.group_name, p.organisation_name) END AS stack,
           CASE WHEN p.role IN ('vendor', 'contractor') THEN 'supplier' ELSE p.role END AS role,
           p.organisation_name
      FROM risk.prc_parties p
      JOIN risk.entities e USING (entity_kind, entity_id)
      JOIN risk.entities_abroad USING (entity_kind, entity_id)  -- the one territory rule
     WHERE e.is_present AND p.role <> 'buyer'
), stacks AS (
    SELECT entity_kind, entity_id, stack,
           array_agg(DISTINCT role ORDER BY role) AS roles,
           array_agg(DISTINCT organisation_name ORDER BY organisation_name) AS organisations
      FROM roles
     GROUP BY entity_kind, entity_id, stack
    HAVING count(DISTINCT role) >= 2
)
SELECT entity_kind,
       entity_id,
       NULL::text AS severity,
       jsonb_build_object(
           'reason', string_agg(stack || ' holds ' || array_to_string(roles, ' + ') || ' ('
                     || array_to_string(organisations, ', ') || ')', '; '),
           'stacks', jsonb_agg(jsonb_build_object('stack', stack, 'roles', roles, 'organisations', organisations))
       ) AS evidence
  FROM stacks
 GROUP BY entity_kind, entity_id
