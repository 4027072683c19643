-- Analyst views over core.country_regimes (source political_regimes). Recreated whenever a view file changes.
-- Regime codes: V-Dem Regimes of the World, 0 closed autocracy .. 3 liberal democracy.

CREATE VIEW analyst.country_regimes AS
SELECT r.iso3,
       r.entity_name AS country_name,
       r.year,
       r.regime,
       CASE r.regime
           WHEN 0 THEN 'closed autocracy'
           WHEN 1 THEN 'electoral autocracy'
           WHEN 2 THEN 'electoral democracy'
           WHEN 3 THEN 'liberal democracy'
       END AS regime_label,
       r.regime >= 2 AS is_democracy,
       r.first_seen_at,
       r.removed_at
  FROM core.country_regimes r;

COMMENT ON VIEW analyst.country_regimes IS
    'Political regime of each country in each year (V-Dem Regimes of the World). Only countries with an ISO 3166-1 alpha-3 code (and Kosovo as XKX); OWID''s historical entities are left out. Source: V-Dem – processed by Our World in Data (CC BY 4.0).';
COMMENT ON COLUMN analyst.country_regimes.iso3 IS 'ISO 3166-1 alpha-3 code as given by Our World in Data; Kosovo (OWID_KOS there) is XKX, as in every other DSR Watch table.';
COMMENT ON COLUMN analyst.country_regimes.country_name IS 'Country name as Our World in Data spells it (its "Entity" column).';
COMMENT ON COLUMN analyst.country_regimes.year IS 'Calendar year the classification describes.';
COMMENT ON COLUMN analyst.country_regimes.regime IS 'Regimes of the World score: 0 closed autocracy, 1 electoral autocracy, 2 electoral democracy, 3 liberal democracy.';
COMMENT ON COLUMN analyst.country_regimes.regime_label IS 'The score in words: closed autocracy, electoral autocracy, electoral democracy or liberal democracy.';
COMMENT ON COLUMN analyst.country_regimes.is_democracy IS 'True for electoral and liberal democracies (regime 2-3), false for autocracies (0-1).';
COMMENT ON COLUMN analyst.country_regimes.first_seen_at IS 'When DSR Watch first loaded this country-year.';
COMMENT ON COLUMN analyst.country_regimes.removed_at IS 'When the country-year left the source (rows are never deleted); NULL while present.';

CREATE VIEW analyst.latest_country_regimes AS
WITH present AS (
    SELECT * FROM analyst.country_regimes WHERE removed_at IS NULL
), dataset AS (
    SELECT max(year) AS latest_year FROM present
)
SELECT DISTINCT ON (p.iso3)
       p.iso3,
       p.country_name,
       p.year,
       p.regime,
       p.regime_label,
       p.is_democracy,
       p.year = dataset.latest_year AS is_current,
       (extract(year FROM current_date)::integer - p.year) AS years_carried_forward
  FROM present p CROSS JOIN dataset
 ORDER BY p.iso3, p.year DESC;

COMMENT ON VIEW analyst.latest_country_regimes IS
    'One row per country: its regime in the latest year the data covers for it. The data ends a year or more before today, so using it for the current year carries the latest classification forward (years_carried_forward says by how much). Source: V-Dem – processed by Our World in Data (CC BY 4.0).';
COMMENT ON COLUMN analyst.latest_country_regimes.iso3 IS 'ISO 3166-1 alpha-3 code (Kosovo: XKX).';
COMMENT ON COLUMN analyst.latest_country_regimes.country_name IS 'Country name as Our World in Data spells it in that year.';
COMMENT ON COLUMN analyst.latest_country_regimes.year IS 'The latest year with a classification for this country.';
COMMENT ON COLUMN analyst.latest_country_regimes.regime IS 'Regimes of the World score in that year: 0 closed autocracy, 1 electoral autocracy, 2 electoral democracy, 3 liberal democracy.';
COMMENT ON COLUMN analyst.latest_country_regimes.regime_label IS 'The score in words.';
COMMENT ON COLUMN analyst.latest_country_regimes.is_democracy IS 'True for electoral and liberal democracies (regime 2-3).';
COMMENT ON COLUMN analyst.latest_country_regimes.is_current IS 'True when the country''s series reaches the latest year of the whole dataset; false when it stopped earlier (in the 2025 release: Palestine 1948, Vatican 1861), whose regime should not be carried forward to today.';
COMMENT ON COLUMN analyst.latest_country_regimes.years_carried_forward IS 'Current calendar year minus year: how many years the classification is carried forward when used for today (0 when the data covers this year).';
