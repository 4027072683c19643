-- Analyst views over the reference seeds (plugins/dsrwatch/reference/*.yaml).

CREATE VIEW analyst.prc_organisations AS
SELECT o.organisation_id, o.name, o.jurisdiction, o.ownership, o.parent_id, o.group_id, g.name AS group_name,
       ARRAY(SELECT jsonb_array_elements_text(o.sectors)) AS sectors,
       o.roles_note, o.fact_sources, o.notes,
       coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM core.organisation_aliases a
                  WHERE a.organisation_id = o.organisation_id), '{}') AS aliases,
       o.first_seen_at, o.removed_at
  FROM core.prc_organisations o
  LEFT JOIN core.prc_organisations g ON g.organisation_id = o.group_id;

COMMENT ON VIEW analyst.prc_organisations IS 'Registry of PRC-, Hong Kong- and Macau-linked organisations with ownership, group and a source URL for each fact.';
COMMENT ON COLUMN analyst.prc_organisations.organisation_id IS 'Registry id; also the organisation_id sources resolve to.';
COMMENT ON COLUMN analyst.prc_organisations.name IS 'Canonical name.';
COMMENT ON COLUMN analyst.prc_organisations.jurisdiction IS 'PRC, Hong Kong or Macau.';
COMMENT ON COLUMN analyst.prc_organisations.ownership IS 'state, state-influenced or private (the organisation''s own control, see notes).';
COMMENT ON COLUMN analyst.prc_organisations.parent_id IS 'Registry id of the direct parent, if any.';
COMMENT ON COLUMN analyst.prc_organisations.group_id IS 'Top of the parent chain: the group used by VERTICAL_STACK.';
COMMENT ON COLUMN analyst.prc_organisations.group_name IS 'Name of that group.';
COMMENT ON COLUMN analyst.prc_organisations.sectors IS 'What it does (e.g. submarine-cable-supplier, policy-bank, surveillance).';
COMMENT ON COLUMN analyst.prc_organisations.roles_note IS 'One sentence on what the organisation is.';
COMMENT ON COLUMN analyst.prc_organisations.fact_sources IS 'A public URL for each fact, keyed by the fact (ownership, parent, jurisdiction, ...).';
COMMENT ON COLUMN analyst.prc_organisations.notes IS 'Caveats: facts that could not be confirmed, recent ownership changes.';
COMMENT ON COLUMN analyst.prc_organisations.aliases IS 'Spellings in sources that resolve to this organisation.';
COMMENT ON COLUMN analyst.prc_organisations.first_seen_at IS 'When the entry entered the registry.';
COMMENT ON COLUMN analyst.prc_organisations.removed_at IS 'When it left the registry; NULL while listed.';

CREATE VIEW analyst.country_groups AS
SELECT group_id, group_name, iso3, since_year, until_year, until_year IS NULL AS is_current_member, source_url
  FROM core.country_group_members
 WHERE removed_at IS NULL;

COMMENT ON VIEW analyst.country_groups IS 'Membership of EU, NATO, Five Eyes, G7, OECD and Quad, with years (seed facts).';
COMMENT ON COLUMN analyst.country_groups.group_id IS 'EU, NATO, FIVE_EYES, G7, OECD or QUAD.';
COMMENT ON COLUMN analyst.country_groups.group_name IS 'Full name of the group.';
COMMENT ON COLUMN analyst.country_groups.iso3 IS 'Member country, ISO 3166-1 alpha-3.';
COMMENT ON COLUMN analyst.country_groups.since_year IS 'First year of membership.';
COMMENT ON COLUMN analyst.country_groups.until_year IS 'Year membership ended (e.g. GBR left the EU in 2020); NULL for members.';
COMMENT ON COLUMN analyst.country_groups.is_current_member IS 'True while the country is a member.';
COMMENT ON COLUMN analyst.country_groups.source_url IS 'Where the membership list comes from.';

CREATE VIEW analyst.organisation_review AS
SELECT a.alias AS source_spelling, a.organisation_id AS resolved_to, a.match_method, a.match_score,
       a.review_candidate, r.name AS candidate_name, a.first_seen_at
  FROM core.organisation_aliases a
  JOIN core.prc_organisations r ON r.organisation_id = a.review_candidate
 WHERE a.review_candidate IS NOT NULL;

COMMENT ON VIEW analyst.organisation_review IS 'Spellings that fuzzily resemble a PRC-linked organisation (score 90-97) but were not trusted: confirm by adding an alias to the registry, or ignore.';
COMMENT ON COLUMN analyst.organisation_review.source_spelling IS 'The name as a source wrote it.';
COMMENT ON COLUMN analyst.organisation_review.resolved_to IS 'The organisation it was kept as (its own, not the candidate).';
COMMENT ON COLUMN analyst.organisation_review.match_method IS 'How it was resolved (source-name: not matched).';
COMMENT ON COLUMN analyst.organisation_review.match_score IS 'rapidfuzz token_sort_ratio between the spelling and the candidate (90-97).';
COMMENT ON COLUMN analyst.organisation_review.review_candidate IS 'Registry id the fuzzy match proposed.';
COMMENT ON COLUMN analyst.organisation_review.candidate_name IS 'Canonical name of that candidate.';
COMMENT ON COLUMN analyst.organisation_review.first_seen_at IS 'When the spelling was first seen.';
