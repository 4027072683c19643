-- Analyst views over deals (AidData GCDF, World Bank Major Contract Awards) and news leads
-- (GDELT). Recreated whenever a view file changes.

CREATE VIEW analyst.deals AS
WITH parties AS (
    SELECT p.source, p.deal_id,
           array_agg(DISTINCT o.name ORDER BY o.name) FILTER (WHERE p.role = 'buyer') AS buyers,
           array_agg(DISTINCT o.name ORDER BY o.name) FILTER (WHERE p.role IN ('vendor', 'supplier')) AS vendors,
           array_agg(DISTINCT o.name ORDER BY o.name) FILTER (WHERE p.role = 'contractor') AS contractors,
           array_agg(DISTINCT o.name ORDER BY o.name) FILTER (WHERE p.role = 'financier') AS financiers,
           array_agg(DISTINCT o.name || ' (' || p.role || ')' ORDER BY o.name || ' (' || p.role || ')')
               FILTER (WHERE r.organisation_id IS NOT NULL AND r.removed_at IS NULL) AS prc_parties
      FROM core.deal_parties p
      JOIN core.organisations o USING (organisation_id)
      LEFT JOIN core.prc_organisations r USING (organisation_id)
     WHERE p.removed_at IS NULL
     GROUP BY p.source, p.deal_id
), components AS (
    SELECT c.source, c.deal_id,
           array_agg(c.tag ORDER BY c.tag) AS tags,
           jsonb_object_agg(c.tag, c.matched_words) AS words
      FROM core.deal_components c
     WHERE c.removed_at IS NULL
     GROUP BY c.source, c.deal_id
)
SELECT d.source || ':' || d.deal_id AS entity_id,
       d.source,
       d.deal_id,
       d.title,
       d.recipient,
       d.recipient_iso3,
       coalesce(p.buyers, '{}') AS buyers,
       coalesce(p.vendors, '{}') AS vendors,
       coalesce(p.contractors, '{}') AS contractors,
       coalesce(p.financiers, '{}') AS financiers,
       coalesce(p.prc_parties, '{}') AS prc_parties,
       coalesce(c.tags, '{}') AS components,
       coalesce(c.words, '{}'::jsonb) AS component_words,
       d.amount_usd,
       d.amount_basis,
       d.commitment_year,
       d.signing_date,
       d.status,
       d.sector_name,
       d.flow_type,
       d.project_id,
       d.release,
       ARRAY(SELECT jsonb_array_elements_text(d.source_urls)) AS source_urls,
       ARRAY(SELECT jsonb_array_elements_text(d.relevance)) AS relevance,
       d.description,
       d.first_seen_at,
       CASE WHEN d.removed_at IS NULL THEN greatest(d.last_seen_at, f.at) ELSE d.last_seen_at END AS last_seen_at,
       d.removed_at
  FROM core.deals d
  LEFT JOIN parties p USING (source, deal_id)
  LEFT JOIN components c USING (source, deal_id)
  LEFT JOIN ops.last_successful_fetch f USING (source);

COMMENT ON VIEW analyst.deals IS
    'One row per digital-infrastructure deal: AidData GCDF 3.0 projects (ODC-By 1.0, cite AidData) and World Bank Major Contract Awards with PRC suppliers (CC BY 4.0, The World Bank), with parties, components and the words that matched.';
COMMENT ON COLUMN analyst.deals.entity_id IS 'The deal''s id in risk flags (analyst.risk_flags.entity_source_id): "<source>:<deal_id>".';
COMMENT ON COLUMN analyst.deals.source IS 'aiddata or worldbank_contracts.';
COMMENT ON COLUMN analyst.deals.deal_id IS 'AidData Record ID, or World Bank contract number.';
COMMENT ON COLUMN analyst.deals.title IS 'Project title (AidData) or contract description (World Bank).';
COMMENT ON COLUMN analyst.deals.recipient IS 'Recipient country (AidData) or borrower country (World Bank) as the source writes it.';
COMMENT ON COLUMN analyst.deals.recipient_iso3 IS 'ISO 3166-1 alpha-3 of the recipient; NULL for regional projects.';
COMMENT ON COLUMN analyst.deals.buyers IS 'Buyers: the recipient government and the receiving or implementing government agencies (canonical names).';
COMMENT ON COLUMN analyst.deals.vendors IS 'Vendors: PRC (or registry-listed) firms implementing or funding-and-supplying the project; World Bank suppliers.';
COMMENT ON COLUMN analyst.deals.contractors IS 'Other implementing firms and organisations (e.g. a local prime contractor).';
COMMENT ON COLUMN analyst.deals.financiers IS 'Funding and co-financing agencies and insurers (AidData); the World Bank for its contracts.';
COMMENT ON COLUMN analyst.deals.prc_parties IS 'Parties in the PRC-linked registry, with their role, e.g. "Export-Import Bank of China (financier)".';
COMMENT ON COLUMN analyst.deals.components IS 'Component tags (plugins/dsrwatch/reference/deal_components.yaml), e.g. safe_city, cctv, face_recognition.';
COMMENT ON COLUMN analyst.deals.component_words IS 'For each tag, the words of the source text that matched: {"cctv": ["cctv cameras"], ...}.';
COMMENT ON COLUMN analyst.deals.amount_usd IS 'Amount in US dollars, on the basis given in amount_basis.';
COMMENT ON COLUMN analyst.deals.amount_basis IS '"constant 2021 USD" (AidData Amount (Constant USD 2021)) or "nominal USD" (World Bank, the largest amount reported under the contract number).';
COMMENT ON COLUMN analyst.deals.commitment_year IS 'Commitment year (AidData) or signing year (World Bank): the year risk patterns evaluate the deal at.';
COMMENT ON COLUMN analyst.deals.signing_date IS 'Contract signing date (World Bank only).';
COMMENT ON COLUMN analyst.deals.status IS 'AidData status (Pipeline: Pledge, Pipeline: Commitment, Implementation, Completion, ...); "signed" for World Bank contracts.';
COMMENT ON COLUMN analyst.deals.sector_name IS 'AidData Sector Name, or World Bank major sector.';
COMMENT ON COLUMN analyst.deals.flow_type IS 'AidData Flow Type (loan, grant, ...), or World Bank procurement category.';
COMMENT ON COLUMN analyst.deals.project_id IS 'World Bank project id (e.g. P160570); NULL for AidData.';
COMMENT ON COLUMN analyst.deals.release IS 'AidData release the row was last read from (e.g. 3.0); NULL for World Bank contracts.';
COMMENT ON COLUMN analyst.deals.source_urls IS 'Sources AidData cites for the project, or the World Bank project page.';
COMMENT ON COLUMN analyst.deals.relevance IS 'Why the deal counts as digital infrastructure: sector:COMMUNICATIONS, component:<tag>, prc_vendor:<registry id>, prc_vendor_named:<registry id>.';
COMMENT ON COLUMN analyst.deals.description IS 'Project description (AidData) or contract description with project and procurement details (World Bank).';
COMMENT ON COLUMN analyst.deals.first_seen_at IS 'When DSR Watch first saw the deal: with a release or contract new since the previous run, this is what "new" means.';
COMMENT ON COLUMN analyst.deals.last_seen_at IS 'The latest successful fetch of its source (for World Bank contracts, read incrementally, the latest run, whether or not it re-read this contract).';
COMMENT ON COLUMN analyst.deals.removed_at IS 'When it left the source (a later AidData release without it); NULL while present. Rows are never deleted.';

-- A lead is linked to the known deal it most likely reports, from the deals present now (the parser
-- only records what the headline names: countries, registry ids of PRC-linked organisations,
-- component tags). A deal is a candidate only if all three match:
--   * country   - the deal's recipient country is named in the headline, or else is the
--                 publisher's country (GDELT sourcecountry);
--   * vendor    - a PRC-linked organisation named in the headline is a non-buyer party of the deal
--                 (vendor, contractor, financier...) or is named in the deal's own text;
--   * component - the headline and the deal share a taxonomy tag that is not a context tag
--                 (police_security alone, smart_metering alone do not count).
-- The best candidate has the country in the headline, then the most shared tags, then the most
-- shared vendors, then the latest project year (then the smallest entity id). Confidence:
--   * high   - country named in the headline and no other candidate as good;
--   * medium - country only from the publisher, or several candidates equally good (the latest
--              is chosen);
--   * low    - both.
CREATE VIEW analyst.news_leads AS
WITH context_tags(tag) AS (
    -- Tags of relevance "context" in plugins/dsrwatch/reference/deal_components.yaml
    -- (tests/unit/test_gdelt_leads.py checks this list against the taxonomy).
    VALUES ('police_security'), ('smart_metering')
), deal_profiles AS MATERIALIZED (
    -- Each present deal with a recipient country: its non-buyer parties and the organisations its
    -- own text names, and its tags (not context tags). Materialized: computed once per deal, not
    -- once per lead that may be about its country.
    SELECT d.source || ':' || d.deal_id AS entity_id,
           d.title,
           d.recipient_iso3::text AS iso3,
           coalesce(d.commitment_year, extract(year FROM d.signing_date)::integer, 0) AS project_year,
           ARRAY(SELECT p.organisation_id
                   FROM core.deal_parties p
                  WHERE p.source = d.source AND p.deal_id = d.deal_id AND p.role <> 'buyer' AND p.removed_at IS NULL
                  UNION
                 SELECT jsonb_array_elements_text(d.mentioned_organisations)) AS organisations,
           ARRAY(SELECT c.tag
                   FROM core.deal_components c
                  WHERE c.source = d.source AND c.deal_id = d.deal_id AND c.removed_at IS NULL
                    AND c.tag NOT IN (SELECT tag FROM context_tags)) AS tags
      FROM core.deals d
     WHERE d.removed_at IS NULL AND d.recipient_iso3 IS NOT NULL
), lead_countries AS (
    -- Each country a lead may be about: named in the headline, else the publisher's.
    SELECT l.url, c.iso3, true AS in_headline, l.vendor_ids, l.tags
      FROM core.news_leads l
     CROSS JOIN jsonb_array_elements_text(l.countries) AS c(iso3)
     UNION ALL
    SELECT l.url, l.source_country_iso3::text, false, l.vendor_ids, l.tags
      FROM core.news_leads l
     WHERE l.source_country_iso3 IS NOT NULL AND NOT l.countries ? l.source_country_iso3::text
), candidates AS (
    -- Each (lead, deal) pair where country, vendor and component all match, with the vendors and
    -- tags they share (computed once per pair: OFFSET 0 keeps the planner from copying them).
    SELECT lc.url, lc.in_headline, lc.iso3, d.entity_id, d.title, d.project_year, shared.vendors, shared.tags
      FROM lead_countries lc
      JOIN deal_profiles d USING (iso3)
     CROSS JOIN LATERAL (
           SELECT ARRAY(SELECT v FROM jsonb_array_elements_text(lc.vendor_ids) AS v
                         WHERE v = ANY (d.organisations) ORDER BY v COLLATE "C") AS vendors,
                  ARRAY(SELECT t FROM jsonb_object_keys(lc.tags) AS t
                         WHERE t = ANY (d.tags) ORDER BY t COLLATE "C") AS tags
           OFFSET 0) AS shared
     WHERE lc.vendor_ids ?| d.organisations AND lc.tags ?| d.tags
), ranked AS (
    SELECT c.*,
           count(*) OVER (PARTITION BY c.url, c.in_headline, cardinality(c.tags), cardinality(c.vendors))
               AS equally_good,
           row_number() OVER (PARTITION BY c.url
                              ORDER BY c.in_headline DESC, cardinality(c.tags) DESC, cardinality(c.vendors) DESC,
                                       c.project_year DESC, c.entity_id COLLATE "C") AS position
      FROM candidates c
), links AS (
    SELECT r.url,
           r.entity_id AS linked_deal_id,
           r.title AS linked_deal_title,
           CASE WHEN r.in_headline AND r.equally_good = 1 THEN 'high'
                WHEN NOT r.in_headline AND r.equally_good > 1 THEN 'low'
                ELSE 'medium' END AS link_confidence,
           'country ' || r.iso3
               || CASE WHEN r.in_headline THEN ' (named in the headline)' ELSE ' (the publisher''s country)' END
               || ', vendor ' || array_to_string(r.vendors, ', ') || ', components ' || array_to_string(r.tags, ', ')
               || CASE WHEN r.equally_good > 1
                       THEN '; ' || r.equally_good || ' deals match equally well, the latest chosen' ELSE '' END
               AS link_reason
      FROM ranked r
     WHERE r.position = 1
)
SELECT l.url,
       l.title,
       l.seen_at,
       l.domain,
       l.language,
       l.source_country,
       l.source_country_iso3,
       ARRAY(SELECT jsonb_array_elements_text(l.queries)) AS queries,
       ARRAY(SELECT jsonb_array_elements_text(l.vendor_ids)) AS vendor_ids,
       ARRAY(SELECT coalesce(r.name, v.id) FROM jsonb_array_elements_text(l.vendor_ids) WITH ORDINALITY AS v(id, n)
               LEFT JOIN core.prc_organisations r ON r.organisation_id = v.id ORDER BY v.n) AS vendors,
       ARRAY(SELECT jsonb_object_keys(l.tags)) AS components,
       l.tags AS component_words,
       ARRAY(SELECT jsonb_array_elements_text(l.countries)) AS countries,
       k.linked_deal_id,
       k.linked_deal_title,
       k.link_confidence,
       k.link_reason,
       l.first_seen_at
  FROM core.news_leads l
  LEFT JOIN links k USING (url);

COMMENT ON VIEW analyst.news_leads IS
    'News articles (GDELT DOC 2.0) that may report a smart-city, safe-city or surveillance deal with a PRC vendor. LEADS ONLY: an article is never a confirmed deal; a link to a known deal is a suggestion with a confidence. Source: The GDELT Project; articles belong to their publishers.';
COMMENT ON COLUMN analyst.news_leads.url IS 'Article URL (the key).';
COMMENT ON COLUMN analyst.news_leads.title IS 'Headline as GDELT gives it (GDELT puts spaces around punctuation).';
COMMENT ON COLUMN analyst.news_leads.seen_at IS 'When GDELT first saw the article (seendate, UTC).';
COMMENT ON COLUMN analyst.news_leads.domain IS 'Publisher''s web domain.';
COMMENT ON COLUMN analyst.news_leads.language IS 'Article language as GDELT names it (e.g. English, Spanish).';
COMMENT ON COLUMN analyst.news_leads.source_country IS 'Publisher''s country as GDELT names it (not necessarily the country the article is about).';
COMMENT ON COLUMN analyst.news_leads.source_country_iso3 IS 'ISO3 of the publisher''s country; NULL if unknown.';
COMMENT ON COLUMN analyst.news_leads.queries IS 'Which DSR Watch queries found it (safe_city, surveillance, government_data).';
COMMENT ON COLUMN analyst.news_leads.vendor_ids IS 'Registry ids of PRC-linked organisations named in the headline.';
COMMENT ON COLUMN analyst.news_leads.vendors IS 'Their canonical names.';
COMMENT ON COLUMN analyst.news_leads.components IS 'Component tags found in the headline.';
COMMENT ON COLUMN analyst.news_leads.component_words IS 'For each tag, the words of the headline that matched.';
COMMENT ON COLUMN analyst.news_leads.countries IS 'ISO3 codes of countries named in the headline.';
COMMENT ON COLUMN analyst.news_leads.linked_deal_id IS 'analyst.deals.entity_id of the known deal the article most likely reports, among the deals present when the view is read; NULL when country, vendor and component do not all match one.';
COMMENT ON COLUMN analyst.news_leads.linked_deal_title IS 'Title of that deal.';
COMMENT ON COLUMN analyst.news_leads.link_confidence IS 'high: country named in the headline and one best deal; medium: country only from the publisher, or several deals equally good; low: both.';
COMMENT ON COLUMN analyst.news_leads.link_reason IS 'What matched: country (and how), vendor ids, shared components.';
COMMENT ON COLUMN analyst.news_leads.first_seen_at IS 'When DSR Watch first loaded the article.';
