"""V-Dem Regimes of the World, as published by Our World in Data (brief section 5).

Endpoint: the grapher CSV ``political-regime.csv``, one row per entity and year, header
``Entity,Code,Year,Political regime``. Values: 0 closed autocracy, 1 electoral autocracy,
2 electoral democracy, 3 liberal democracy. The file is small (~640 kB, ~31,000 rows, 1789 to
the latest V-Dem release) and has no incremental query: every run fetches it whole, and a
conditional GET keeps an unchanged file cheap. OWID updates it once a year (March).

Entities and codes:

* ``Code`` is ISO 3166-1 alpha-3 for today's countries: kept as is.
* ``OWID_*`` codes are OWID's own, for historical entities (Baden, East Germany, Republic of
  Vietnam, Zanzibar...) and for Somaliland: skipped, as are the rows with an empty code
  (Hamburg, Palestine/Gaza, Palestine/West Bank...). Skipped rows are counted in a warning.
* One exception: Kosovo comes as ``OWID_KOS`` and is loaded as ``XKX``, the user-assigned code
  the EU and the World Bank use and that :mod:`dsrwatch.normalise.countries` gives Kosovo, so
  regimes join the other sources' country codes.

Key: (iso3, year). Two rows for one key (e.g. a future file listing both ``XKX`` and
``OWID_KOS``) are an error, not a silent choice.
Licence: CC BY 4.0; cite "V-Dem – processed by Our World in Data".
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Iterator

from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.sources.base import (
    ChangeGuard,
    MaxNullFraction,
    ParsedBatch,
    RowCountBounds,
    SourceFormatError,
    SourceSpec,
)
from dsrwatch.warehouse.loading import EntityTable
from dsrwatch.warehouse.raw import RawPayload

log = logging.getLogger(__name__)

HOST = "ourworldindata.org"
POLITICAL_REGIME_URL = f"https://{HOST}/grapher/political-regime.csv"

# The grapher CSV's value column is the indicator's title; with ``useColumnShortNames=true``
# OWID writes its short name instead (seen in 2022 downloads). Both carry the same values.
ID_COLUMNS = ("Entity", "Code", "Year")
VALUE_COLUMNS = ("Political regime", "regime_row_owid")

# OWID codes of entities that are today's countries without an ISO 3166 code of their own.
OWID_CODE_TO_ISO3 = {"OWID_KOS": "XKX"}

REGIME_LABELS = {
    0: "closed autocracy",
    1: "electoral autocracy",
    2: "electoral democracy",
    3: "liberal democracy",
}

COUNTRY_REGIMES = EntityTable("core.country_regimes", key=("iso3", "year"), columns=("regime", "entity_name"))

SOURCE = SourceSpec(
    name="political_regimes",
    title="V-Dem Regimes of the World via Our World in Data (political-regime.csv)",
    category="reference",
    hosts=(HOST,),
    homepage="https://ourworldindata.org/grapher/political-regime",
    licence="CC BY 4.0",
    attribution="V-Dem – processed by Our World in Data",
    schedule="0 2 * * 1",  # weekly, Monday 02:00 UTC: before the ingest DAGs and the risk run
    tables=(COUNTRY_REGIMES,),
    expectations=(
        # The March 2025 file: 177 countries (176 ISO codes + Kosovo), 29,441 country-years,
        # 1789-2024. A yearly release adds ~180 rows; fewer than 25,000 means a broken file.
        RowCountBounds("core.country_regimes", 25_000, 45_000),
        MaxNullFraction("core.country_regimes", "entity_name", 0.0),
    ),
    politeness_delay=1.0,
    views=("analyst.country_regimes", "analyst.latest_country_regimes"),
    # Each V-Dem release revises past years: many modified country-years are normal, removals are not.
    change_guard=ChangeGuard(max_modified_fraction=None),
)


# -- fetch -------------------------------------------------------------------------------------
def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """One GET: the whole CSV."""
    yield fetcher.get(POLITICAL_REGIME_URL)


# -- parse -------------------------------------------------------------------------------------
_ISO3 = re.compile(r"^[A-Z]{3}$")


def _decode(body: bytes, url: str) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"{url}: not UTF-8 text ({exc}); {len(body)} bytes") from exc


def _check_header(header: list[str] | None, url: str) -> None:
    if header is None:
        raise SourceFormatError(
            f"{url}: empty file, expected a CSV with header {','.join(ID_COLUMNS)},<regime>"
        )
    if tuple(header[:3]) != ID_COLUMNS or len(header) != 4 or header[3] not in VALUE_COLUMNS:
        raise SourceFormatError(
            f"{url}: unexpected CSV header {header}; expected {[*ID_COLUMNS, VALUE_COLUMNS[0]]} "
            f"(or {VALUE_COLUMNS[1]!r} as the last column). The grapher's layout may have changed."
        )


def _as_int(text: str, what: str, url: str, line: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise SourceFormatError(f"{url} line {line}: {what} {text!r} is not an integer") from None


def iso3_for(code: str) -> str | None:
    """The ISO3 code to load an OWID entity code under; None for entities we skip."""
    code = code.strip()
    if code in OWID_CODE_TO_ISO3:
        return OWID_CODE_TO_ISO3[code]
    if not code or code.startswith("OWID_"):
        return None
    return code


def parse_csv(body: bytes, url: str = POLITICAL_REGIME_URL) -> ParsedBatch:
    """The grapher CSV -> rows (iso3, year, regime, entity_name) for ``core.country_regimes``."""
    reader = csv.reader(io.StringIO(_decode(body, url), newline=""))
    _check_header(next(reader, None), url)
    rows: dict[tuple[str, int], tuple] = {}
    skipped_rows = 0
    skipped_entities: set[str] = set()
    for fields in reader:
        line = reader.line_num
        if not fields:  # a blank line
            continue
        if len(fields) != 4:
            raise SourceFormatError(f"{url} line {line}: expected 4 fields, got {len(fields)}: {fields}")
        entity, code, year_text, regime_text = (f.strip() for f in fields)
        iso3 = iso3_for(code)
        if iso3 is None:
            skipped_rows += 1
            skipped_entities.add(f"{entity} ({code})" if code else entity)
            continue
        if not _ISO3.match(iso3):
            raise SourceFormatError(
                f"{url} line {line}: code {code!r} of {entity!r} is neither ISO3 nor OWID_*"
            )
        year = _as_int(year_text, "year", url, line)
        regime = _as_int(regime_text, "regime", url, line)
        if regime not in REGIME_LABELS:
            raise SourceFormatError(f"{url} line {line}: regime {regime} of {entity!r} {year} is not in 0..3")
        key = (iso3, year)
        if key in rows:
            raise SourceFormatError(
                f"{url} line {line}: {iso3} {year} appears twice ({rows[key][3]!r} and {entity!r}); "
                "each country-year must have one regime"
            )
        rows[key] = (iso3, year, regime, entity or None)
    if not rows:
        raise SourceFormatError(f"{url}: no country rows (only a header, or only non-ISO entities)")
    warnings = []
    if skipped_rows:
        warnings.append(
            f"skipped {skipped_rows} rows of {len(skipped_entities)} entities without an ISO3 code "
            f"(historical OWID_* entities or an empty code): {', '.join(sorted(skipped_entities))}"
        )
    return ParsedBatch(rows={COUNTRY_REGIMES.table: [rows[k] for k in sorted(rows)]}, entities=len(rows),
                       warnings=warnings)  # fmt: skip


def parse(payloads: Iterable[RawPayload], cursor: dict | None = None) -> ParsedBatch:
    """Raw payloads of one run (the CSV) -> rows for ``core.country_regimes``."""
    bodies = {payload.url: payload.body for payload in payloads}
    if POLITICAL_REGIME_URL not in bodies:
        raise SourceFormatError(f"run has no {POLITICAL_REGIME_URL}")
    return parse_csv(bodies[POLITICAL_REGIME_URL])
