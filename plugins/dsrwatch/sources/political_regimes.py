"""V-Dem Regimes of the World, as published by Our World in Data.

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
``OWID_KOS``) are never a silent choice: with the same values they are one row (and a warning),
with different values both are set aside ("the source lists this key twice").

Bad rows: a row that cannot be read (the wrong number of fields, a code that is neither ISO3 nor
``OWID_*``, a year or regime that is not an integer) is set aside with its line and the reason;
a regime outside 0..3 or a year outside 1789..2100 is set aside by the declared ranges. Its
country-year keeps its previous version and the rest of the file loads. When a bad row does not
say which country-year it is, the run marks nothing removed. A file that is not this CSV at all
(not UTF-8, an HTML page, a changed header, no readable country row) fails the run.
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
    Range,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    excerpt,
    record_key,
)
from dsrwatch.warehouse.tables import EntityTable, RawPayload

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

COUNTRY_REGIMES = EntityTable(
    "core.country_regimes", key=("iso3", "year"), columns=("regime", "entity_name"),
    # V-Dem starts in 1789; the four categories are 0..3.
    rules=(Range("year", 1789, 2100), Range("regime", 0, 3)),
)  # fmt: skip

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
    # The real CSV is 0.6 MB.
    max_payload_bytes=64 * 2**20,
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
        line = body[: exc.start].count(b"\n") + 1
        raise SourceFormatError(f"{url}: not UTF-8 text (line {line}: {exc}); {len(body)} bytes. The payload is "
                                "kept in raw for inspection.") from exc  # fmt: skip


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


def _as_int(text: str, what: str, line: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"line {line}: {what} {text!r} is not an integer") from None


def iso3_for(code: str) -> str | None:
    """The ISO3 code to load an OWID entity code under; None for entities we skip."""
    code = code.strip()
    if code in OWID_CODE_TO_ISO3:
        return OWID_CODE_TO_ISO3[code]
    if not code or code.startswith("OWID_"):
        return None
    return code


def _identify(fields: list[str]) -> tuple[str, int] | None:
    """The country-year a row of the wrong shape names, if its code and year can be read."""
    if len(fields) < 3:
        return None
    iso3 = iso3_for(fields[1])
    try:
        year = int(fields[2].strip())
    except ValueError:
        return None
    return (iso3, year) if iso3 and _ISO3.match(iso3) else None


def parse_csv(body: bytes, url: str = POLITICAL_REGIME_URL) -> ParsedBatch:
    """The grapher CSV -> rows (iso3, year, regime, entity_name) for ``core.country_regimes``."""
    reader = csv.reader(io.StringIO(_decode(body, url), newline=""))
    try:
        _check_header(next(reader, None), url)
        rows, set_aside, warnings = _read_rows(reader, url)
    except csv.Error as exc:
        raise SourceFormatError(f"{url} line {reader.line_num}: not readable as CSV ({exc})") from exc
    if not rows:
        example = f"; e.g. {set_aside[0].reason}" if set_aside else ""
        raise SourceFormatError(f"{url}: no country rows (only a header, only non-ISO entities, or every row "
                                f"unreadable: {len(set_aside)} set aside{example})")  # fmt: skip
    # A row set aside without naming its country-year might be any of them: none is marked removed.
    complete = all(s.entity_key is not None for s in set_aside)
    rows.sort(key=lambda row: row[:2])  # stable: a key listed twice keeps the file's order
    return ParsedBatch(rows={COUNTRY_REGIMES.table: rows}, entities=len({row[:2] for row in rows}), warnings=warnings,
                       complete=complete, set_aside=set_aside)  # fmt: skip


def _read_rows(reader, url: str) -> tuple[list[tuple], list[SetAside], list[str]]:
    rows: list[tuple] = []
    set_aside: list[SetAside] = []
    first_line: dict[tuple[str, int], tuple[int, str]] = {}
    repeated: list[str] = []
    skipped_rows = 0
    skipped_entities: set[str] = set()
    for fields in reader:
        line = reader.line_num
        if not fields:  # a blank line
            continue
        if len(fields) != 4:
            key = _identify(fields)
            if key is None and len(fields) >= 2 and iso3_for(fields[1]) is None:
                skipped_rows += 1  # a row of an entity this source skips, whatever its shape
                skipped_entities.add(f"{fields[0].strip()} ({fields[1].strip()})" if fields[1].strip() else fields[0].strip())
                continue
            shown = excerpt(fields)
            set_aside.append(SetAside(COUNTRY_REGIMES.table, record_key(*key) if key else f"line {line}", None, None,
                                      f"line {line}: expected 4 fields, got {len(fields)}: {shown}", url, key))  # fmt: skip
            continue
        entity, code, year_text, regime_text = (f.strip() for f in fields)
        iso3 = iso3_for(code)
        if iso3 is None:
            skipped_rows += 1
            skipped_entities.add(f"{entity} ({code})" if code else entity)
            continue
        try:
            if not _ISO3.match(iso3):
                raise ValueError(f"line {line}: code {code!r} of {entity!r} is neither ISO3 nor OWID_*")
            year = _as_int(year_text, "year", line)
        except ValueError as exc:  # the row does not say which country-year it is
            set_aside.append(SetAside(COUNTRY_REGIMES.table, record_key(iso3, year_text), None, None,
                                      f"unreadable record: {exc}", url))  # fmt: skip
            continue
        key = (iso3, year)
        try:
            regime = _as_int(regime_text, "regime", line)
        except ValueError as exc:
            set_aside.append(SetAside(COUNTRY_REGIMES.table, record_key(*key), "regime", excerpt(regime_text),
                                      f"unreadable record: {exc}", url, key))  # fmt: skip
            continue
        if key in first_line:
            # Both rows go on: the same values are one row, different values set aside by validation.
            earlier, earlier_entity = first_line[key]
            repeated.append(f"{iso3} {year} appears twice ({earlier_entity!r} and {entity!r}, lines {earlier} and {line})")
        else:
            first_line[key] = (line, entity)
        rows.append((iso3, year, regime, entity or None))
    warnings = []
    if skipped_rows:
        warnings.append(
            f"skipped {skipped_rows} rows of {len(skipped_entities)} entities without an ISO3 code "
            f"(historical OWID_* entities or an empty code): {', '.join(sorted(skipped_entities))}"
        )
    if repeated:
        warnings.append(f"{len(repeated)} country-years listed more than once (each country-year must have one "
                        f"regime; different values are set aside): {'; '.join(repeated[:10])}")  # fmt: skip
    return rows, set_aside, warnings


def parse(payloads: Iterable[RawPayload], cursor: dict | None = None) -> ParsedBatch:
    """Raw payloads of one run (the CSV) -> rows for ``core.country_regimes``."""
    bodies = {payload.url: payload.body for payload in payloads}
    if POLITICAL_REGIME_URL not in bodies:
        raise SourceFormatError(f"run has no {POLITICAL_REGIME_URL}")
    return parse_csv(bodies[POLITICAL_REGIME_URL])
