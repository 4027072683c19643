-- Shared risk views: every entity kind's contributions combined, the PRC-linked parties, host
-- regimes, and the analyst views of flags and entity scores.

SELECT risk.create_union_view('entities');
SELECT risk.create_union_view('parties');

-- Parties whose organisation is in the PRC-linked registry.
CREATE VIEW risk.prc_parties AS
SELECT p.entity_kind, p.entity_id, p.role, p.organisation_id, p.party_name,
       o.name AS organisation_name, o.jurisdiction, o.ownership, o.group_id, g.name AS group_name, o.sectors
  FROM risk.parties p
  JOIN core.prc_organisations o ON o.organisation_id = p.organisation_id AND o.removed_at IS NULL
  LEFT JOIN core.prc_organisations g ON g.organisation_id = o.group_id;

-- Each entity's host countries with the regime in force at its project year: the latest V-Dem
-- year at or before it, so years past the data carry the latest value forward (marked).
-- One territory rule, used by every pattern: mainland China, Hong Kong and Macau are PRC
-- jurisdictions. They are never "foreign" hosts (CHOKEPOINT, regime patterns), their government
-- bodies are domestic (GOV_DATA_HOSTING), and an entity hosted only there raises no pattern about
-- infrastructure abroad (PRC_OWNER, PRC_SUPPLIER, VERTICAL_STACK). An entity with no known country
-- counts as abroad (a deal without a recipient country is still an export).
CREATE VIEW risk.prc_territories (iso3, label) AS
VALUES ('CHN', 'mainland China'), ('HKG', 'Hong Kong SAR'), ('MAC', 'Macau SAR');

CREATE VIEW risk.entities_abroad AS
SELECT e.entity_kind, e.entity_id
  FROM risk.entities e
 WHERE cardinality(e.countries) = 0
    OR EXISTS (SELECT 1 FROM unnest(e.countries) AS c(iso3)
                WHERE c.iso3 NOT IN (SELECT iso3 FROM risk.prc_territories));

-- The PRC-linked parties of each entity in every role but buyer, as patterns quote them: a line
-- ("Huawei (vendor); China Exim Bank (financier)"), a role-first line, and a JSON list.
CREATE VIEW risk.prc_party_evidence AS
SELECT p.entity_kind, p.entity_id,
       string_agg(DISTINCT p.party_name || ' (' || p.role || ')', '; '
                  ORDER BY p.party_name || ' (' || p.role || ')') AS names,
       string_agg(DISTINCT p.role || ' ' || p.party_name || ' (' || p.jurisdiction || ', ' || p.ownership || ')', '; '
                  ORDER BY p.role || ' ' || p.party_name || ' (' || p.jurisdiction || ', ' || p.ownership || ')')
           AS party_text,
       jsonb_agg(DISTINCT jsonb_build_object('organisation_id', p.organisation_id, 'as_written', p.party_name,
                 'role', p.role, 'jurisdiction', p.jurisdiction, 'ownership', p.ownership,
                 'group_id', p.group_id)) AS parties,
       bool_or(p.role <> 'financier') AS runs_or_builds
  FROM risk.prc_parties p
 WHERE p.role <> 'buyer'
 GROUP BY p.entity_kind, p.entity_id;

CREATE VIEW risk.host_regimes AS
WITH evaluated AS (
    SELECT e.entity_kind, e.entity_id, h.iso3,
           coalesce(e.project_year, extract(year FROM now())::integer) AS evaluation_year
      FROM risk.entities e CROSS JOIN LATERAL unnest(e.countries) AS h(iso3)
     WHERE e.is_present
)
SELECT v.entity_kind, v.entity_id, v.iso3, v.evaluation_year, r.year AS regime_year, r.regime,
       CASE r.regime WHEN 0 THEN 'closed autocracy' WHEN 1 THEN 'electoral autocracy'
                     WHEN 2 THEN 'electoral democracy' WHEN 3 THEN 'liberal democracy' END AS regime_label,
       r.year < v.evaluation_year AS carried_forward
  FROM evaluated v
  CROSS JOIN (SELECT max(year) AS last_year FROM core.country_regimes WHERE removed_at IS NULL) d
  LEFT JOIN LATERAL (
        SELECT cr.year, cr.regime FROM core.country_regimes cr
         WHERE cr.iso3 = v.iso3::char(3) AND cr.year <= v.evaluation_year AND cr.removed_at IS NULL
           -- a series that stopped long ago (Palestine 1948, Vatican 1861) is no evidence for today
           AND cr.year >= least(v.evaluation_year, d.last_year) - 1
         ORDER BY cr.year DESC LIMIT 1) r ON true;

-- Severity weights of the entity score (documented in README "Risk flags"), from dsrwatch/vocabulary.py.
CREATE VIEW risk.severity_weights AS SELECT severity, weight, rank FROM risk.severities;

CREATE VIEW analyst.risk_flags AS
WITH last_run AS (
    SELECT max(finished_at) AS at FROM ops.risk_evaluations WHERE status = 'succeeded'
)
SELECT f.flag_id,
       f.pattern_id,
       f.entity_kind,
       f.entity_id AS entity_source_id,
       coalesce(e.entity_name, f.entity_name) AS entity_name,
       e.category,
       e.countries,
       f.severity,
       NOT f.is_baseline AS is_new,
       f.first_flagged_at,
       CASE WHEN f.resolved_at IS NULL THEN greatest(f.last_confirmed_at, last_run.at) ELSE f.last_confirmed_at END
           AS last_confirmed_at,
       f.resolved_at,
       f.times_reopened,
       f.evidence,
       p.title || ': ' || coalesce(f.evidence ->> 'reason', p.reasoning) AS explanation,
       p.reasoning AS pattern_reasoning,
       p.basis AS report_basis,
       e.url AS source_url
  FROM risk.flags f
  CROSS JOIN last_run
  LEFT JOIN risk.patterns p USING (pattern_id)
  LEFT JOIN risk.entities e ON e.entity_kind = f.entity_kind AND e.entity_id = f.entity_id;

COMMENT ON VIEW analyst.risk_flags IS 'Every (pattern, entity) match with its evidence and lifecycle; open flags have resolved_at NULL. Readable on its own: explanation says why.';
COMMENT ON COLUMN analyst.risk_flags.flag_id IS 'Stable id of the (pattern, entity) pair.';
COMMENT ON COLUMN analyst.risk_flags.pattern_id IS 'Risk pattern (file sql/risk_patterns/<pattern_id>.sql).';
COMMENT ON COLUMN analyst.risk_flags.entity_kind IS 'submarine_cable, cloud_region, data_centre, deal, ...';
COMMENT ON COLUMN analyst.risk_flags.entity_source_id IS 'The entity''s id in its source (e.g. the TeleGeography cable slug).';
COMMENT ON COLUMN analyst.risk_flags.entity_name IS 'The entity''s name.';
COMMENT ON COLUMN analyst.risk_flags.category IS 'cables, cloud, data_centres or deals.';
COMMENT ON COLUMN analyst.risk_flags.countries IS 'Host countries (ISO3).';
COMMENT ON COLUMN analyst.risk_flags.severity IS 'low, medium, high or critical (current).';
COMMENT ON COLUMN analyst.risk_flags.is_new IS 'False for flags opened by the first evaluation of their source (the baseline), true for every later one.';
COMMENT ON COLUMN analyst.risk_flags.first_flagged_at IS 'When the pattern first matched the entity.';
COMMENT ON COLUMN analyst.risk_flags.last_confirmed_at IS 'Latest evaluation that still matched (for open flags, the latest risk run).';
COMMENT ON COLUMN analyst.risk_flags.resolved_at IS 'When the match disappeared; NULL while open. A returning match reopens the flag.';
COMMENT ON COLUMN analyst.risk_flags.times_reopened IS 'How often the flag came back after being resolved (history in risk.flag_events).';
COMMENT ON COLUMN analyst.risk_flags.evidence IS 'What matched: organisations, roles, countries, regimes, values (JSON).';
COMMENT ON COLUMN analyst.risk_flags.explanation IS 'One line: the pattern''s title and the reason it matched this entity.';
COMMENT ON COLUMN analyst.risk_flags.pattern_reasoning IS 'Why the pattern matters, after the NBR report China''s Digital Ambitions (2022).';
COMMENT ON COLUMN analyst.risk_flags.report_basis IS 'The report''s lines of reasoning the pattern encodes (R1-R6, see README).';
COMMENT ON COLUMN analyst.risk_flags.source_url IS 'Where to read about the entity.';

CREATE VIEW analyst.entity_risk AS
WITH open_flags AS (
    SELECT f.entity_kind, f.entity_id, f.pattern_id, f.severity, w.weight,
           f.pattern_id = 'AUTHORITARIAN_HOST' AS is_modifier
      FROM risk.flags f JOIN risk.severity_weights w USING (severity)
     WHERE f.resolved_at IS NULL
), scored AS (
    SELECT entity_kind, entity_id,
           sum(weight) FILTER (WHERE NOT is_modifier) AS base_score,
           bool_or(is_modifier) AS authoritarian_host,
           count(*) AS open_flags,
           string_agg(pattern_id || ' ' || severity || ' (' || weight || ')', ' + ' ORDER BY weight DESC, pattern_id)
               FILTER (WHERE NOT is_modifier) AS terms
      FROM open_flags GROUP BY entity_kind, entity_id
)
SELECT s.entity_kind, s.entity_id AS entity_source_id, e.entity_name, e.category, e.countries,
       round(coalesce(s.base_score, 0) * CASE WHEN s.authoritarian_host THEN 1.5 ELSE 1 END, 1) AS score,
       s.open_flags,
       'score ' || round(coalesce(s.base_score, 0) * CASE WHEN s.authoritarian_host THEN 1.5 ELSE 1 END, 1)
           || ' = ' || coalesce(s.terms, '0')
           || CASE WHEN s.authoritarian_host THEN ', x1.5 for an authoritarian host' ELSE '' END AS explanation
  FROM scored s
  LEFT JOIN risk.entities e ON e.entity_kind = s.entity_kind AND e.entity_id = s.entity_id;

COMMENT ON VIEW analyst.entity_risk IS 'One score per entity with open flags: the sum of severity weights (low 1, medium 2, high 4, critical 8), times 1.5 when AUTHORITARIAN_HOST is open.';
COMMENT ON COLUMN analyst.entity_risk.entity_kind IS 'submarine_cable, cloud_region, data_centre, deal, ...';
COMMENT ON COLUMN analyst.entity_risk.entity_source_id IS 'The entity''s id in its source.';
COMMENT ON COLUMN analyst.entity_risk.entity_name IS 'The entity''s name.';
COMMENT ON COLUMN analyst.entity_risk.category IS 'cables, cloud, data_centres or deals.';
COMMENT ON COLUMN analyst.entity_risk.countries IS 'Host countries (ISO3).';
COMMENT ON COLUMN analyst.entity_risk.score IS 'Sum of the weights of open flags, x1.5 with an authoritarian host.';
COMMENT ON COLUMN analyst.entity_risk.open_flags IS 'Number of open flags, the modifier included.';
COMMENT ON COLUMN analyst.entity_risk.explanation IS 'How the score adds up, in one line.';

CREATE VIEW analyst.corrections AS
SELECT c.entity_kind, c.entity_id AS entity_source_id, c.correction, c.effective, c.source_url, c.note,
       e.entity_name,
       e.entity_id IS NOT NULL AS matches_an_entity,
       c.effective <= current_date AS in_force
  FROM core.corrections c
  LEFT JOIN risk.entities e ON e.entity_kind = c.entity_kind AND e.entity_id = c.entity_id
 WHERE c.removed_at IS NULL;

COMMENT ON VIEW analyst.corrections IS 'Reviewed corrections over source data (plugins/dsrwatch/reference/corrections.yaml) and whether each still matches an entity: one that matches nothing needs review.';
COMMENT ON COLUMN analyst.corrections.entity_kind IS 'submarine_cable, cloud_region, data_centre or deal.';
COMMENT ON COLUMN analyst.corrections.entity_source_id IS 'The entity''s id as in analyst.risk_flags.entity_source_id.';
COMMENT ON COLUMN analyst.corrections.correction IS 'closed: the entity no longer exists from effective on, although its source still lists it.';
COMMENT ON COLUMN analyst.corrections.effective IS 'From when the correction holds.';
COMMENT ON COLUMN analyst.corrections.source_url IS 'Public source of the correction.';
COMMENT ON COLUMN analyst.corrections.note IS 'What was corrected and why.';
COMMENT ON COLUMN analyst.corrections.entity_name IS 'The entity''s name, when the correction matches one.';
COMMENT ON COLUMN analyst.corrections.matches_an_entity IS 'False: the correction matches nothing in the warehouse (a renamed or removed entity, or a typo).';
COMMENT ON COLUMN analyst.corrections.in_force IS 'True once the effective date has come.';
