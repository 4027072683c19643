-- Analyst views over cloud regions (TeleGeography Cloud Infrastructure Map) and data centres
-- (PeeringDB). Recreated whenever a view file changes.
--
-- Organisations resolve at query time through core.organisation_aliases (the name as the source
-- writes it -> organisation_id), falling back to the id resolved at load. So an alias added to the
-- registry (loaded by reference_data) re-labels rows at once, without refetching the source.
-- "Outside mainland China": any country but CHN; Hong Kong (HKG) and Macau (MAC) count as outside.

CREATE VIEW analyst.cloud_regions AS
SELECT r.provider,
       coalesce(a.organisation_id, r.provider_organisation_id) AS provider_organisation_id,
       CASE WHEN r.region_code LIKE 'name:%' THEN NULL ELSE r.region_code END AS region_code,
       r.region_name,
       r.metro,
       r.country_name,
       r.country_iso3,
       r.country_iso3 <> 'CHN' AS outside_mainland_china,
       r.latitude,
       r.longitude,
       r.in_service,
       r.zones,
       p.organisation_id IS NOT NULL AS is_prc_linked,
       p.jurisdiction AS prc_jurisdiction,
       p.ownership AS prc_ownership,
       g.name AS prc_group,
       concat_ws('|', r.provider, r.region_code, r.metro) AS risk_entity_id,
       r.first_seen_at,
       CASE WHEN r.removed_at IS NULL THEN greatest(r.last_seen_at, last_fetch.at) ELSE r.last_seen_at END AS last_seen_at,
       r.removed_at
  FROM core.cloud_regions r
  LEFT JOIN ops.table_last_fetch last_fetch ON last_fetch.table_name = 'core.cloud_regions'
  LEFT JOIN core.organisation_aliases a ON a.alias = r.provider
  LEFT JOIN core.prc_organisations p
         ON p.organisation_id = coalesce(a.organisation_id, r.provider_organisation_id) AND p.removed_at IS NULL
  LEFT JOIN core.prc_organisations g ON g.organisation_id = p.group_id;

COMMENT ON VIEW analyst.cloud_regions IS
    'One row per public-cloud region (provider, region code, metro) in the TeleGeography Cloud Infrastructure Map, with the provider''s PRC link if any. Filter is_prc_linked AND outside_mainland_china for Chinese clouds abroad. Source: TeleGeography Cloud Infrastructure Map (c) TeleGeography, research use.';
COMMENT ON COLUMN analyst.cloud_regions.provider IS 'Cloud provider as the source names it, e.g. "Alibaba Cloud".';
COMMENT ON COLUMN analyst.cloud_regions.provider_organisation_id IS 'Organisation the provider resolves to (registry id for PRC-linked firms, e.g. alibaba-cloud; else a slug of the name).';
COMMENT ON COLUMN analyst.cloud_regions.region_code IS 'Provider''s region code (e.g. me-east-1); NULL when the source gives none, typically for announced regions.';
COMMENT ON COLUMN analyst.cloud_regions.region_name IS 'Region name as published, e.g. "Middle East 1 (Dubai)".';
COMMENT ON COLUMN analyst.cloud_regions.metro IS 'Metro area the source places the region in. One region code can appear in two metros (one row each).';
COMMENT ON COLUMN analyst.cloud_regions.country_name IS 'Country as the source spells it (Hong Kong is filed under "China").';
COMMENT ON COLUMN analyst.cloud_regions.country_iso3 IS 'ISO 3166-1 alpha-3 of the host country; HKG / MAC for the Hong Kong / Macau metros; NULL if unknown.';
COMMENT ON COLUMN analyst.cloud_regions.outside_mainland_china IS 'True when the host country is not CHN (Hong Kong, Macau and Taiwan count as outside); NULL if the country is unknown.';
COMMENT ON COLUMN analyst.cloud_regions.latitude IS 'WGS84 latitude of the metro (when the source lists a metro twice at different points, one is kept and the run warns).';
COMMENT ON COLUMN analyst.cloud_regions.longitude IS 'WGS84 longitude of the metro.';
COMMENT ON COLUMN analyst.cloud_regions.in_service IS 'True when the region is live; false for announced or planned regions.';
COMMENT ON COLUMN analyst.cloud_regions.zones IS 'Number of availability zones the source gives.';
COMMENT ON COLUMN analyst.cloud_regions.is_prc_linked IS 'True when the provider is in the registry of PRC-, Hong Kong- and Macau-linked organisations (core.prc_organisations).';
COMMENT ON COLUMN analyst.cloud_regions.prc_jurisdiction IS 'PRC, Hong Kong or Macau: where the provider is linked to; NULL when not PRC-linked.';
COMMENT ON COLUMN analyst.cloud_regions.prc_ownership IS 'state, state-influenced or private (registry); NULL when not PRC-linked.';
COMMENT ON COLUMN analyst.cloud_regions.prc_group IS 'Name of the provider''s top parent in the registry (e.g. Alibaba Group Holding Limited).';
COMMENT ON COLUMN analyst.cloud_regions.risk_entity_id IS 'entity_id of the region in risk.entities and analyst.risk_flags: provider|region code|metro (the code is ''name:<region name>'' when the source has none).';
COMMENT ON COLUMN analyst.cloud_regions.first_seen_at IS 'When DSR Watch first saw the region.';
COMMENT ON COLUMN analyst.cloud_regions.last_seen_at IS 'The latest successful fetch that still contained it.';
COMMENT ON COLUMN analyst.cloud_regions.removed_at IS 'When it left the source (rows are never deleted); NULL while present.';

CREATE VIEW analyst.data_centres AS
WITH facilities AS (
    SELECT f.*, o.name AS current_org_name,
           coalesce(a_now.organisation_id, a_then.organisation_id, f.operator_organisation_id) AS organisation_id
      FROM core.peeringdb_facilities f
      LEFT JOIN core.peeringdb_organisations o ON o.org_id = f.org_id
      LEFT JOIN core.organisation_aliases a_now ON a_now.alias = o.name
      LEFT JOIN core.organisation_aliases a_then ON a_then.alias = f.org_name
)
SELECT f.facility_id,
       f.name,
       f.org_id AS operator_org_id,
       coalesce(f.current_org_name, f.org_name) AS operator_name,
       f.organisation_id AS operator_organisation_id,
       p.organisation_id IS NOT NULL AS is_prc_linked,
       p.jurisdiction AS prc_jurisdiction,
       p.ownership AS prc_ownership,
       g.name AS prc_group,
       f.city,
       f.country_iso2,
       f.country_iso3,
       f.country_iso3 <> 'CHN' AS outside_mainland_china,
       f.latitude,
       f.longitude,
       f.created AS peeringdb_created,
       f.updated AS peeringdb_updated,
       f.status,
       'https://www.peeringdb.com/fac/' || f.facility_id AS peeringdb_url,
       f.first_seen_at,
       CASE WHEN f.removed_at IS NULL THEN greatest(f.last_seen_at, last_fetch.at) ELSE f.last_seen_at END AS last_seen_at,
       f.removed_at
  FROM facilities f
  LEFT JOIN ops.table_last_fetch last_fetch ON last_fetch.table_name = 'core.peeringdb_facilities'
  LEFT JOIN core.prc_organisations p ON p.organisation_id = f.organisation_id AND p.removed_at IS NULL
  LEFT JOIN core.prc_organisations g ON g.organisation_id = p.group_id;

COMMENT ON VIEW analyst.data_centres IS
    'Every PeeringDB facility (data centre / colocation site) with its operating organisation and whether that organisation is PRC-linked. Data centres of interest: is_prc_linked (AND outside_mainland_china for those abroad). Source: PeeringDB (Acceptable Use Policy: no commercial use).';
COMMENT ON COLUMN analyst.data_centres.facility_id IS 'PeeringDB facility id (https://www.peeringdb.com/fac/<id>); also the entity_id in risk.entities.';
COMMENT ON COLUMN analyst.data_centres.name IS 'Facility name as published.';
COMMENT ON COLUMN analyst.data_centres.operator_org_id IS 'PeeringDB id of the operating organisation.';
COMMENT ON COLUMN analyst.data_centres.operator_name IS 'Operating organisation''s current PeeringDB name (the facility record''s copy if the organisation is unknown).';
COMMENT ON COLUMN analyst.data_centres.operator_organisation_id IS 'Organisation the operator resolves to: registry id for PRC-linked firms, else a slug of the name.';
COMMENT ON COLUMN analyst.data_centres.is_prc_linked IS 'True when the operator is in the registry of PRC-, Hong Kong- and Macau-linked organisations (core.prc_organisations).';
COMMENT ON COLUMN analyst.data_centres.prc_jurisdiction IS 'PRC, Hong Kong or Macau: where the operator is linked to; NULL when not PRC-linked.';
COMMENT ON COLUMN analyst.data_centres.prc_ownership IS 'state, state-influenced or private (registry); NULL when not PRC-linked.';
COMMENT ON COLUMN analyst.data_centres.prc_group IS 'Name of the operator''s top parent in the registry (e.g. China Mobile Communications Group Co., Ltd.).';
COMMENT ON COLUMN analyst.data_centres.city IS 'City as published.';
COMMENT ON COLUMN analyst.data_centres.country_iso2 IS 'Country code as PeeringDB gives it (ISO 3166-1 alpha-2).';
COMMENT ON COLUMN analyst.data_centres.country_iso3 IS 'ISO 3166-1 alpha-3 (XK becomes XKX); NULL if unknown.';
COMMENT ON COLUMN analyst.data_centres.outside_mainland_china IS 'True when the country is not CHN (Hong Kong, Macau and Taiwan count as outside); NULL if the country is unknown.';
COMMENT ON COLUMN analyst.data_centres.latitude IS 'WGS84 latitude (often NULL for sites without a geocoded address).';
COMMENT ON COLUMN analyst.data_centres.longitude IS 'WGS84 longitude.';
COMMENT ON COLUMN analyst.data_centres.peeringdb_created IS 'When the facility was created in PeeringDB (its year is the project year for risk patterns).';
COMMENT ON COLUMN analyst.data_centres.peeringdb_updated IS 'When the facility record last changed in PeeringDB.';
COMMENT ON COLUMN analyst.data_centres.status IS 'PeeringDB status of the record (ok); deleted facilities are marked removed instead.';
COMMENT ON COLUMN analyst.data_centres.peeringdb_url IS 'The facility''s page on PeeringDB.';
COMMENT ON COLUMN analyst.data_centres.first_seen_at IS 'When DSR Watch first saw the facility.';
COMMENT ON COLUMN analyst.data_centres.last_seen_at IS 'The latest successful fetch after which it was still listed (incremental runs confirm every facility not reported deleted).';
COMMENT ON COLUMN analyst.data_centres.removed_at IS 'When it was deleted in PeeringDB or left a complete read (rows are never deleted); NULL while present.';
