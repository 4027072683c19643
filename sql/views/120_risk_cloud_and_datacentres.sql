-- Cloud regions and data centres as risk entities (contract: sql/risk_patterns/README.md).
-- Every region and facility is an entity, PRC-linked or not: patterns decide what matches.
-- Parties resolve through core.organisation_aliases at query time (see 030_cloud_and_datacentres.sql).

CREATE VIEW risk.entities__cloud_region AS
SELECT 'cloud_region'::text AS entity_kind,
       concat_ws('|', r.provider, r.region_code, r.metro) AS entity_id,
       -- e.g. "Alibaba Cloud Middle East 1 (Dubai) [Riyadh, me-east-1]"
       CASE WHEN r.region_name ILIKE r.provider || '%' THEN r.region_name
            ELSE r.provider || ' ' || coalesce(r.region_name, r.region_code) END
           || ' [' || r.metro || CASE WHEN r.region_code LIKE 'name:%' THEN '' ELSE ', ' || r.region_code END || ']'
           AS entity_name,
       (SELECT category FROM risk.entity_categories WHERE entity_kind = 'cloud_region') AS category,
       (SELECT source FROM ops.source_tables WHERE table_name = 'core.cloud_regions') AS source,
       CASE WHEN r.country_iso3 IS NULL THEN '{}'::text[] ELSE ARRAY[r.country_iso3::text] END AS countries,
       NULL::integer AS project_year,
       'https://www.cloudinfrastructuremap.com/'::text AS url,
       r.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM risk.closed_entities k
                                             WHERE k.entity_kind = 'cloud_region'
                                               AND k.entity_id = concat_ws('|', r.provider, r.region_code, r.metro))
           AS is_present
  FROM core.cloud_regions r;

CREATE VIEW risk.parties__cloud_region AS
SELECT 'cloud_region'::text AS entity_kind,
       concat_ws('|', r.provider, r.region_code, r.metro) AS entity_id,
       'operator'::text AS role,
       coalesce(a.organisation_id, r.provider_organisation_id) AS organisation_id,
       r.provider AS party_name
  FROM core.cloud_regions r
  LEFT JOIN core.organisation_aliases a ON a.alias = r.provider
 WHERE r.removed_at IS NULL;

CREATE VIEW risk.entities__data_centre AS
SELECT 'data_centre'::text AS entity_kind,
       f.facility_id::text AS entity_id,
       f.name AS entity_name,
       (SELECT category FROM risk.entity_categories WHERE entity_kind = 'data_centre') AS category,
       (SELECT source FROM ops.source_tables WHERE table_name = 'core.peeringdb_facilities') AS source,
       CASE WHEN f.country_iso3 IS NULL THEN '{}'::text[] ELSE ARRAY[f.country_iso3::text] END AS countries,
       extract(year FROM f.created AT TIME ZONE 'UTC')::integer AS project_year,
       'https://www.peeringdb.com/fac/' || f.facility_id AS url,
       f.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM risk.closed_entities k
                                             WHERE k.entity_kind = 'data_centre' AND k.entity_id = f.facility_id::text)
           AS is_present
  FROM core.peeringdb_facilities f;

CREATE VIEW risk.parties__data_centre AS
SELECT 'data_centre'::text AS entity_kind,
       f.facility_id::text AS entity_id,
       'operator'::text AS role,
       coalesce(a_now.organisation_id, a_then.organisation_id, f.operator_organisation_id) AS organisation_id,
       coalesce(o.name, f.org_name) AS party_name
  FROM core.peeringdb_facilities f
  LEFT JOIN core.peeringdb_organisations o ON o.org_id = f.org_id
  LEFT JOIN core.organisation_aliases a_now ON a_now.alias = o.name
  LEFT JOIN core.organisation_aliases a_then ON a_then.alias = f.org_name
 WHERE f.removed_at IS NULL
   AND coalesce(a_now.organisation_id, a_then.organisation_id, f.operator_organisation_id) IS NOT NULL;
