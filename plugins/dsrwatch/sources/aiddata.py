"""AidData's Global Chinese Development Finance Dataset (GCDF), version 3.0.

Endpoint: one zip, ``AidDatas_Global_Chinese_Development_Finance_Dataset_Version_3_0.zip``,
holding an xlsx whose sheet ``GCDF_3.0`` has 20,985 projects x 126 columns (2000-2021). Releases
come years apart; every run fetches the zip with a conditional GET (a 304 costs nothing) and
the pipeline skips the load when the bytes are those of the last load.

Parsing: zip -> the workbook copied to a temporary file -> the sheet read by calamine (Rust, via
python-calamine), which holds the sheet in memory (about twice its XML) for a fraction of openpyxl's time.
A sheet declaring more than MAX_CALAMINE_XML_BYTES, or one calamine cannot read, is streamed row by row
with openpyxl in read-only mode instead (memory bounded by the rows kept; a damaged sheet fails there,
naming the row); either way the records are the same. The header row maps the
official column names; a missing required column is a schema-drift error naming it. A zip whose
workbook declares more than MAX_UNCOMPRESSED_BYTES (1 GiB) is refused before extraction, and the
copy stops at that cap whatever the zip declared (a zip bomb cannot fill the temporary directory).

Kept: only digital-infrastructure projects (``relevance`` says why): sector COMMUNICATIONS, a
component of the taxonomy (reference/deal_components.yaml) in the title or, for strong tags, the
description, or a PRC-linked technology firm with a digital service sector (systems integrator,
surveillance, cloud, telecom operator...) among the agencies or named in the text.

Parties (agency fields are '|'-separated, with a type per name in the ``... Type`` column):
funding, co-financing agencies and the insurer -> financier (a PRC technology firm funding a
project with digital components, as in Huawei's camera donations, is also its vendor); direct
receiving agencies and the recipient's government -> buyer; implementing agencies by type:
recipient government agency -> buyer, bank or fund -> financier, Chinese (or registry-listed)
firm -> vendor, any other -> contractor.

Keys: (source, deal_id = AidData Record ID). "New" is a new record id (history: added); a new
release rewrites ``release`` on every row it still holds (history: modified, {release: [old, new]}).

Bad records: a kept record that cannot be read (a commitment year or amount that is not a number,
an agency name too long to be an organisation's key) is set aside with the reason, its deal keeps
its previous version, and the rest of the release loads; declared ranges set aside a commitment
year outside 1949..2100, a negative amount and a signing date after the fetch. One record id listed
twice with different values is set aside ("the source lists this key twice"); listed twice
identically, it is loaded once. A payload that is not the release (not a zip, no workbook, no
GCDF_ sheet, a required column renamed, a sheet the xlsx reader cannot get through) fails the run.
Licence: ODC-By 1.0; cite AidData's Global Chinese Development Finance Dataset, Version 3.0.

The deal tables, model and collector, the registry vendors and the government-body classifier it
shares with the other deal sources are in ``dsrwatch.deals``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO

from dsrwatch.deals import (
    DEAL_TABLES,
    DEALS,
    Deal,
    DealCollector,
    PartyRef,
    digital_vendor_ids,
    mentioned_organisations,
    vendor_ids,
)
from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise import values
from dsrwatch.normalise.components import TagMatch, Taxonomy, default_taxonomy, relevant_tags
from dsrwatch.normalise.countries import iso3_name, to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.base import (
    ChangeGuard,
    MaxNullFraction,
    OrganisationCollector,
    ParsedBatch,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    record_key,
    set_aside_on_error,
)
from dsrwatch.validation import key_text
from dsrwatch.warehouse.tables import RawPayload

log = logging.getLogger(__name__)

HOST = "docs.aiddata.org"
RELEASE_URL = f"https://{HOST}/ad4/datasets/AidDatas_Global_Chinese_Development_Finance_Dataset_Version_3_0.zip"
SHEET_PREFIX = "GCDF_"  # the dataset sheet is GCDF_<release>, e.g. GCDF_3.0
# The most the workbook may expand to when extracted from the release zip (GCDF 3.0's is far less).
MAX_UNCOMPRESSED_BYTES = 2**30
SPOOL_CHUNK_BYTES = 1 << 20
# calamine parses the whole sheet into memory: ~1.8 bytes per byte of sheet XML at its peak, on top of
# the process. A workbook whose worksheets and shared strings declare more than this is streamed with
# openpyxl instead (about 10x slower, memory bounded by a row). The benchmark's full-size synthetic
# sheet is 133 MiB of XML (parse peak ~305 MB RSS); at this cap the peak would be ~380 MB.
MAX_CALAMINE_XML_BYTES = 160 * 2**20

SOURCE = SourceSpec(
    name="aiddata",
    title="AidData Global Chinese Development Finance Dataset 3.0 (digital-infrastructure projects)",
    category="deals",
    hosts=(HOST,),
    homepage="https://www.aiddata.org/data/aiddatas-global-chinese-development-finance-dataset-version-3-0",
    licence="ODC-By 1.0",
    attribution="AidData, Global Chinese Development Finance Dataset, Version 3.0 (Custer et al., 2023)",
    schedule="0 4 1 * *",  # monthly: releases are years apart and a conditional GET is free
    tables=DEAL_TABLES,
    expectations=(
        # GCDF 3.0 holds ~700 COMMUNICATIONS projects plus safe-city, e-government and data-centre
        # projects filed under other sectors; World Bank contracts share the table (a few hundred).
        RowCountBounds("core.deals", 300, 8_000, scope_column="source"),
        MaxNullFraction("core.deals", "recipient_iso3", 0.25, scope_column="source"),  # regional projects have no country
        MaxNullFraction("core.deals", "commitment_year", 0.02, scope_column="source"),
    ),
    politeness_delay=1.0,
    views=("analyst.deals",),
    # A new release stamps every record with its version ("modified" on `release`).
    change_guard=ChangeGuard(max_modified_fraction=None),
    # The release zip (GCDF 3.0: 20,985 projects x 126 columns).
    max_payload_bytes=2**30,
)

# -- columns of the official workbook --------------------------------------------------------------
RECORD_ID = "AidData Record ID"
REQUIRED_COLUMNS = (RECORD_ID, "Title", "Recipient", "Commitment Year", "Sector Name", "Funding Agencies",
                    "Implementing Agencies")  # fmt: skip
OPTIONAL_COLUMNS = (
    "Description", "Status", "Recipient ISO-3", "Flow Type", "Funding Agencies Type", "Co-financing Agencies",
    "Co-financing Agencies Type", "Direct Receiving Agencies", "Direct Receiving Agencies Type",
    "Implementing Agencies Type", "Insurance Provider", "Insurance Provider Agency Type",
    "Amount (Constant USD 2021)", "Source URLs",
)  # fmt: skip
AGENCY_SEPARATOR = "|"


# -- fetch -------------------------------------------------------------------------------------
def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """The release zip (one request; the fetch layer makes it conditional)."""
    yield fetcher.get(RELEASE_URL)


# -- reading the workbook -------------------------------------------------------------------------
def _workbook_member(archive: zipfile.ZipFile, url: str) -> str | None:
    """The dataset workbook in the release zip (the largest .xlsx); None if the zip IS a workbook."""
    names = archive.namelist()
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return None
    workbooks = [i for i in archive.infolist() if i.filename.lower().endswith(".xlsx") and not i.is_dir()]
    if not workbooks:
        raise SourceFormatError(f"{url}: the zip holds no .xlsx workbook (members: {names[:10]})")
    return max(workbooks, key=lambda i: i.file_size).filename


def _check_declared_size(info: zipfile.ZipInfo, url: str, cap: int) -> None:
    """Refuse, before extracting anything, a member whose central-directory entry declares more than ``cap``."""
    if info.file_size > cap:
        raise SourceFormatError(f"{url}: member {info.filename!r} declares {info.file_size} bytes uncompressed "
                                f"({info.compress_size} compressed), over the cap of {cap} bytes; refused before "
                                "extraction (a zip bomb?)")  # fmt: skip


def _spool_member(source: IO[bytes], spool: IO[bytes], url: str, info: zipfile.ZipInfo, cap: int) -> int:
    """Copy an opened member to ``spool``, counting bytes: one past ``cap`` stops the copy (a member
    lying about its size), so at most ``cap`` bytes are ever written. Returns the bytes copied."""
    copied = 0
    while chunk := source.read(min(SPOOL_CHUNK_BYTES, cap - copied + 1)):
        copied += len(chunk)
        if copied > cap:
            raise SourceFormatError(f"{url}: member {info.filename!r} declares {info.file_size} bytes uncompressed "
                                    f"but expands beyond the cap of {cap} bytes; extraction stopped (a zip bomb?)")  # fmt: skip
        spool.write(chunk)
    return copied


def _cell(row: Sequence[object], index: int | None) -> object:
    return row[index] if index is not None and index < len(row) else None


def _calamine_value(value: object) -> object:
    """A calamine cell as openpyxl gives it: an empty cell is None (calamine: ""), a whole number below
    1e16 an int (calamine reads every number as a float; openpyxl gives an int unless the file wrote a
    fraction or an exponent, and writers, openpyxl's "%.16g" and Excel alike, write whole numbers below
    1e16 without either), a date-time at midnight a datetime (calamine: a date)."""
    if value == "" and isinstance(value, str):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e16 else value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def _sheet_xml_bytes(spool: IO[bytes]) -> int | None:
    """What the workbook's worksheets and shared strings declare uncompressed (None: not a zip). The
    declaration holds: calamine, like Python's zipfile, stops a member that expands beyond it."""
    try:
        with zipfile.ZipFile(spool) as workbook:
            return sum(i.file_size for i in workbook.infolist()
                       if i.filename.startswith("xl/worksheets/") or i.filename == "xl/sharedStrings.xml")  # fmt: skip
    except (zipfile.BadZipFile, OSError):
        return None


def _spool_path(spool: IO[bytes]) -> str | None:
    """A path that opens the spool (Linux's TemporaryFile has none but /proc/self/fd), or None."""
    name = getattr(spool, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        return name
    by_descriptor = f"/proc/self/fd/{spool.fileno()}"
    return by_descriptor if os.path.exists(by_descriptor) else None


def _calamine_sheet(spool: IO[bytes], url: str, label: str) -> tuple[str, Iterator[Sequence[object]]] | None:
    """``(sheet name, rows)`` read by calamine (Rust), which loads the whole sheet at once: None (the
    caller streams with openpyxl) when the sheet is too big for that or calamine cannot read it."""
    import python_calamine

    declared = _sheet_xml_bytes(spool)
    if declared is None or declared > MAX_CALAMINE_XML_BYTES:
        log.warning("aiddata: %s declares %s bytes of sheet XML (calamine reads up to %d at once); streaming it "
                    "with openpyxl", label, declared, MAX_CALAMINE_XML_BYTES)  # fmt: skip
        return None
    spool.seek(0)
    try:
        path = _spool_path(spool)
        if path is not None:  # calamine reads the file where it is
            workbook = python_calamine.CalamineWorkbook.from_path(path)
        else:  # calamine copies the whole file into memory first
            workbook = python_calamine.CalamineWorkbook.from_filelike(spool)
    except python_calamine.CalamineError as exc:
        log.warning("aiddata: calamine cannot open %s (%s: %s); trying openpyxl", label, type(exc).__name__, exc)
        return None
    try:
        sheets = [s for s in workbook.sheet_names if s.startswith(SHEET_PREFIX)]
        if not sheets:
            raise SourceFormatError(f"{url}: no sheet named {SHEET_PREFIX}<release> (sheets: {workbook.sheet_names})")
        try:
            sheet = workbook.get_sheet_by_name(sheets[0])  # the whole sheet, parsed in Rust
        except python_calamine.CalamineError as exc:
            log.warning("aiddata: calamine cannot read sheet %s of %s (%s: %s); trying openpyxl", sheets[0], label,
                        type(exc).__name__, exc)  # fmt: skip
            return None
    finally:
        workbook.close()
    return sheets[0], sheet.iter_rows()  # rows from the sheet's first row, whatever its recorded dimensions


@contextmanager
def _openpyxl_sheet(spool: IO[bytes], url: str, label: str) -> Iterator[tuple[str, Iterator[Sequence[object]]]]:
    """``(sheet name, rows)`` streamed by openpyxl in read-only mode (memory bounded by a row): the
    fallback for a sheet calamine should not or cannot read; a damaged one fails here naming the row."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SourceFormatError(f"{url}: {label} is not a readable xlsx workbook: {exc}") from exc
    try:
        sheets = [s for s in workbook.sheetnames if s.startswith(SHEET_PREFIX)]
        if not sheets:
            raise SourceFormatError(f"{url}: no sheet named {SHEET_PREFIX}<release> (sheets: {workbook.sheetnames})")
        sheet = workbook[sheets[0]]
        sheet.reset_dimensions()  # do not trust the file's recorded dimensions: read every cell
        yield sheets[0], sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


@contextmanager
def open_release(
    body: bytes, url: str = RELEASE_URL, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> Iterator[tuple[str, Iterator[dict[str, object]]]]:
    """``(release, records)`` of a release zip, records as ``{official column: value}`` (only the
    columns this module reads). The workbook is spooled to a temporary file, never held in memory,
    and its sheet read by calamine, or streamed by openpyxl when it is over MAX_CALAMINE_XML_BYTES
    or calamine cannot read it (the records are the same either way). A workbook that declares, or
    expands to, more than ``max_uncompressed_bytes`` is refused (SourceFormatError) with at most that much spooled."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        preview = body[:80].decode("utf-8", "replace")
        raise SourceFormatError(f"{url}: not a zip file ({exc}); {len(body)} bytes starting {preview!r}. "
                                "The payload is kept in raw for inspection.") from exc  # fmt: skip
    with archive:
        member = _workbook_member(archive, url)
        info = archive.getinfo(member) if member is not None else None
        if info is not None:
            _check_declared_size(info, url, max_uncompressed_bytes)
        with tempfile.TemporaryFile() as spool:
            if info is None:
                spool.write(body)
            else:
                try:
                    with archive.open(info) as source:
                        _spool_member(source, spool, url, info, max_uncompressed_bytes)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # corrupt, or not the size it declares
                    raise SourceFormatError(f"{url}: member {member!r} declares {info.file_size} bytes uncompressed "
                                            f"(cap {max_uncompressed_bytes} bytes) but cannot be extracted: {exc}; "
                                            "its data does not match its declared size and checksum") from exc  # fmt: skip
            label = member or "the payload"
            spool.seek(0)
            read = _calamine_sheet(spool, url, label)
            if read is not None:
                name, rows = read
                yield name.removeprefix(SHEET_PREFIX), _records(rows, url, _calamine_value)
                return
            spool.seek(0)
            with _openpyxl_sheet(spool, url, label) as (name, rows):
                yield name.removeprefix(SHEET_PREFIX), _records(rows, url)


def _records(
    rows: Iterator[Sequence[object]], url: str, value: Callable[[object], object] | None = None
) -> Iterator[dict[str, object]]:
    """Records of the sheet's rows; ``value`` maps a reader's cell to openpyxl's (None: openpyxl's)."""
    header = next(rows, None)
    if header is None:
        raise SourceFormatError(f"{url}: the dataset sheet is empty")
    if value is not None:
        header = [value(name) for name in header]
    positions = {" ".join(str(name).split()): i for i, name in enumerate(header) if name is not None}
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise SourceFormatError(f"{url}: the dataset sheet lacks column(s) {missing}; the release's schema may "
                                f"have changed (header starts {list(positions)[:8]})")  # fmt: skip
    wanted = {c: positions.get(c) for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    id_index = positions[RECORD_ID]
    for row in _readable(rows, url):
        record_id = _cell(row, id_index)
        if value is not None:
            record_id = value(record_id)
        if record_id is None or str(record_id).strip() == "":
            continue
        if value is None:
            yield {name: _cell(row, index) for name, index in wanted.items()}
        else:
            yield {name: value(_cell(row, index)) for name, index in wanted.items()}


def _readable(rows: Iterator[Sequence[object]], url: str) -> Iterator[Sequence[object]]:
    """The sheet's rows; the xlsx reader failing part-way (malformed XML, a corrupt part) cannot
    resume, so it fails the run naming the last row read."""
    number = 1  # the header
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, TypeError, OSError) as exc:
            raise SourceFormatError(f"{url}: the dataset sheet cannot be read after row {number} "
                                    f"({type(exc).__name__}: {exc}); the workbook is damaged") from exc  # fmt: skip
        number += 1
        yield row


# -- parse -------------------------------------------------------------------------------------
def _record_id(value: object) -> str:
    """The record id as text: 37016 for 37016, 37016.0 or "37016"; other text as written."""
    text = " ".join(str(value).split())
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float(text)
    except (TypeError, ValueError, OverflowError):
        return text
    return str(int(number)) if number == number and abs(number) < 2**63 and number.is_integer() else text


def _organisation_name(name: str) -> str:
    """A party name becomes an alias (a key of core.organisation_aliases): one no key can hold
    makes the record unreadable, so the deal alone is set aside (not the deal and its organisations)."""
    return key_text(name, "agency name")


def split_agencies(names: object, types: object) -> list[tuple[str, str | None]]:
    """'|'-separated agency names with the type at the same position in the type column (None
    for all when the two lists differ in length)."""
    name_list = [clean_text(n) for n in str(names or "").split(AGENCY_SEPARATOR)]
    type_list = [clean_text(t) for t in str(types or "").split(AGENCY_SEPARATOR)] if types else []
    aligned = len(type_list) == len(name_list)
    return [(n, type_list[i] if aligned else None) for i, n in enumerate(name_list) if n]


def implementing_role(agency_type: str | None, organisation_id: str, vendors: frozenset[str]) -> str:
    """Role of an implementing agency from its AidData type ("<Chinese|Recipient|Other> <kind>")."""
    kind = (agency_type or "").casefold()
    if "bank" in kind or "fund" in kind:
        return "financier"
    if "government agency" in kind:  # the recipient's own agencies buy; PRC or third-country ones deliver
        return "contractor" if kind.startswith(("chinese", "other")) else "buyer"
    if kind.startswith("chinese") or organisation_id in vendors:
        return "vendor"
    return "contractor"


def _is_government_type(agency_type: str | None) -> bool:
    return "government" in (agency_type or "").casefold()


def parse_record(record: Mapping[str, object], release: str, resolver: OrganisationResolver,
                 taxonomy: Taxonomy) -> tuple[Deal, list[PartyRef], dict[str, TagMatch]] | None:  # fmt: skip
    """One workbook record -> (deal, parties, components), or None if it is not digital infrastructure."""
    deal_id = _record_id(record[RECORD_ID])
    title = clean_text(record.get("Title")) or f"AidData record {deal_id}"
    description = clean_text(record.get("Description"))
    sector = clean_text(record.get("Sector Name"))
    components = taxonomy.classify_fields({"title": title, "description": description})
    agencies = {
        "funding": split_agencies(record.get("Funding Agencies"), record.get("Funding Agencies Type")),
        "cofinancing": split_agencies(record.get("Co-financing Agencies"), record.get("Co-financing Agencies Type")),
        "receiving": split_agencies(record.get("Direct Receiving Agencies"),
                                    record.get("Direct Receiving Agencies Type")),  # fmt: skip
        "implementing": split_agencies(record.get("Implementing Agencies"), record.get("Implementing Agencies Type")),
        "insurance": split_agencies(record.get("Insurance Provider"), record.get("Insurance Provider Agency Type")),
    }
    vendors, digital_vendors = vendor_ids(), digital_vendor_ids()
    mentioned = mentioned_organisations(title, description)
    relevance = [f"sector:{sector}"] if sector and sector.upper() == "COMMUNICATIONS" else []
    relevance += [f"component:{tag}" for tag in relevant_tags(taxonomy, components)]
    resolved = {name: resolver.resolve(name).organisation_id for group in agencies.values() for name, _ in group}
    relevance += sorted({f"prc_vendor:{org}" for org in resolved.values() if org in digital_vendors})
    relevance += [f"prc_vendor_named:{org}" for org in mentioned if org in digital_vendors]
    if not relevance:
        return None

    for group in agencies.values():
        for name, _ in group:
            _organisation_name(name)
    recipient = clean_text(record.get("Recipient"))
    iso3 = clean_text(record.get("Recipient ISO-3"))
    if not (iso3 and re.fullmatch(r"[A-Z]{3}", iso3)):
        iso3 = to_iso3(recipient)
    urls = []
    for url in str(record.get("Source URLs") or "").split(AGENCY_SEPARATOR):
        if (url := url.strip()) and url not in urls:
            urls.append(url)
    deal = Deal(
        deal_id=deal_id, title=title, release=release, description=description,
        status=clean_text(record.get("Status")), recipient=recipient, recipient_iso3=iso3,
        commitment_year=values.year(record.get("Commitment Year"), "Commitment Year"), sector_name=sector,
        flow_type=clean_text(record.get("Flow Type")),
        amount_usd=values.amount(record.get("Amount (Constant USD 2021)"), "Amount (Constant USD 2021)"),
        amount_basis="constant 2021 USD", source_urls=urls, mentioned_organisations=mentioned, relevance=relevance,
    )  # fmt: skip

    parties: list[PartyRef] = []
    digital = any(r.startswith("component:") for r in relevance)
    for name, agency_type in agencies["funding"]:
        parties.append(PartyRef("financier", name, agency_type))
        if digital and resolved[name] in vendors:
            # A PRC technology firm funding a project with digital components supplies its own kit
            # (Huawei's safe-city and camera donations); not so for its scholarships and training.
            parties.append(PartyRef("vendor", name, agency_type))
    parties += [PartyRef("financier", name, t) for name, t in agencies["cofinancing"] + agencies["insurance"]]
    parties += [PartyRef("buyer", name, t, government=_is_government_type(t)) for name, t in agencies["receiving"]]
    for name, agency_type in agencies["implementing"]:
        role = implementing_role(agency_type, resolved[name], vendors)
        parties.append(PartyRef(role, name, agency_type, government=role == "buyer" and _is_government_type(agency_type)))
    if recipient and iso3:  # regional projects ("Africa, regional") have no single government
        parties.append(PartyRef("buyer", f"Government of {iso3_name(iso3)}", "Recipient government (AidData Recipient)",
                                government=True, specific=False))  # fmt: skip
    return deal, parties, components


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """The release zip of one run -> the digital-infrastructure deals with parties and components."""
    body = None
    for payload in payloads:
        if payload.url == RELEASE_URL:
            body = payload.body
    if body is None:
        raise SourceFormatError(f"run has no {RELEASE_URL}")
    organisations = OrganisationCollector(resolver)
    taxonomy = default_taxonomy()
    deals = DealCollector(SOURCE.name, organisations, taxonomy)
    read, unknown_countries = 0, set()
    set_aside: list[SetAside] = []
    parsed: dict[str, tuple] = {}
    fingerprints: dict[str, bytes] = {}  # record id -> digest of its values, to tell repeats from conflicts
    identical, conflicting = [], {}
    with open_release(body) as (release, records):
        for record in records:
            read += 1
            deal_id = _record_id(record[RECORD_ID])
            fingerprint = hashlib.sha256(repr(sorted(record.items())).encode("utf-8", "backslashreplace")).digest()
            if deal_id in fingerprints:
                if fingerprints[deal_id] == fingerprint:
                    identical.append(deal_id)
                else:
                    conflicting.setdefault(deal_id, None)
                continue
            fingerprints[deal_id] = fingerprint
            with set_aside_on_error(set_aside, DEALS.table, record_key(SOURCE.name, deal_id), RELEASE_URL,
                                    entity_key=(SOURCE.name, deal_id)):  # fmt: skip
                result = parse_record(record, release, organisations.resolver, taxonomy)
                if result is not None:
                    parsed[deal_id] = result
    for deal_id in conflicting:
        parsed.pop(deal_id, None)
        if not any(s.entity_key == (SOURCE.name, deal_id) for s in set_aside):
            set_aside.append(SetAside(DEALS.table, record_key(SOURCE.name, deal_id), None, None,
                                      "the source lists this key twice with different values", RELEASE_URL,
                                      (SOURCE.name, deal_id)))  # fmt: skip
    for deal, parties, components in parsed.values():
        if deal.recipient and deal.recipient_iso3 is None and "regional" not in deal.recipient.lower():
            unknown_countries.add(deal.recipient)
        deals.add(deal, parties, components)
    deals.duplicates.extend(identical)
    warnings = [f"release {release}: {read} records read, {len(deals.deals)} digital-infrastructure deals kept"]
    previous = (cursor or {}).get("release")
    if previous and previous != release:
        warnings.append(f"new AidData release {previous} -> {release}: rows still present are marked modified")
    if deals.duplicates:
        warnings.append(f"duplicate record ids skipped: {deals.duplicates[:10]}")
    if conflicting:
        warnings.append(f"record ids listed twice with different values, set aside: {list(conflicting)[:10]}")
    if unknown_countries:
        warnings.append(f"unknown recipient names (add to normalise/countries.py): {sorted(unknown_countries)}")
    log.info("aiddata: %s", warnings[0])
    return ParsedBatch(rows=deals.rows(), entities=len(deals.deals), cursor={"release": release, "records": read},
                       warnings=warnings, set_aside=set_aside)  # fmt: skip
