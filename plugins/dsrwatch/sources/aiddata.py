"""AidData's Global Chinese Development Finance Dataset (GCDF), version 3.0.

Endpoint: one zip, ``AidDatas_Global_Chinese_Development_Finance_Dataset_Version_3_0.zip``,
holding an xlsx whose sheet ``GCDF_3.0`` has 20,985 projects x 126 columns (2000-2021). Releases
come years apart; every run fetches the zip with a conditional GET (a 304 costs nothing) and
the pipeline skips the load when the bytes are those of the last load.

Parsing streams: zip -> the workbook copied to a temporary file -> openpyxl in read-only mode,
row by row, so memory stays bounded by the rows kept, not the sheet. The header row maps the
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

This module also defines the deal tables that other deal sources (worldbank_contracts) load.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import IO

from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise.components import PhraseIndex, TagMatch, Taxonomy, default_taxonomy, relevant_tags
from dsrwatch.normalise.countries import iso3_name, to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text, normalise_name
from dsrwatch.reference.registry import load_registry
from dsrwatch.sources.base import (
    ORGANISATION_ALIASES,
    ORGANISATIONS,
    ChangeGuard,
    MaxNullFraction,
    NotAfterFetch,
    OrganisationCollector,
    ParsedBatch,
    Range,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    record_key,
    set_aside_on_error,
)
from dsrwatch.validation import key_text
from dsrwatch.warehouse.tables import EntityTable, RawPayload

log = logging.getLogger(__name__)

HOST = "docs.aiddata.org"
RELEASE_URL = f"https://{HOST}/ad4/datasets/AidDatas_Global_Chinese_Development_Finance_Dataset_Version_3_0.zip"
SHEET_PREFIX = "GCDF_"  # the dataset sheet is GCDF_<release>, e.g. GCDF_3.0
# The most the workbook may expand to when extracted from the release zip (GCDF 3.0's is far less).
MAX_UNCOMPRESSED_BYTES = 2**30
SPOOL_CHUNK_BYTES = 1 << 20

# -- the deal tables (shared by every deal source; `source` is the scope column) -----------------
DEALS = EntityTable(
    "core.deals",
    key=("source", "deal_id"),
    columns=("release", "title", "description", "status", "recipient", "recipient_iso3", "commitment_year",
             "signing_date", "sector_name", "flow_type", "amount_usd", "amount_basis", "project_id", "source_urls",
             "mentioned_organisations", "relevance"),
    scope_column="source",
    # The People's Republic dates from 1949; amounts are what a deal is worth (no single project
    # comes near a trillion dollars); a deal cannot have been signed after it was fetched.
    rules=(Range("commitment_year", 1949, 2100), Range("amount_usd", 0, 10**12), NotAfterFetch("signing_date")),
)  # fmt: skip
DEAL_PARTIES = EntityTable(
    "core.deal_parties",
    key=("source", "deal_id", "role", "organisation_id"),
    columns=("source_name", "party_type"),
    scope_column="source",
    entity_columns=("source", "deal_id"),
)
DEAL_COMPONENTS = EntityTable(
    "core.deal_components", key=("source", "deal_id", "tag"), columns=("matched_words", "matched_in"),
    scope_column="source", entity_columns=("source", "deal_id"),
)  # fmt: skip
# Created by migration 0003 (cloud and data centres); deal sources own their rows through `source`.
GOVERNMENT_HOSTING = EntityTable(
    "core.government_hosting",
    key=("source", "entity_kind", "entity_id", "government_body"),
    columns=("body_type", "country_iso3", "evidence_url", "note"),
    scope_column="source",
)
DEAL_TABLES = (DEALS, ORGANISATIONS, ORGANISATION_ALIASES, DEAL_PARTIES, DEAL_COMPONENTS, GOVERNMENT_HOSTING)

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

# Registry sectors of technology vendors. Firms with a digital SERVICE sector (Huawei, ZTE,
# Hikvision, CEIEC, Inspur...) make a project digital infrastructure by taking part in it; firms
# that only make EQUIPMENT or cable (ZTT, Hengtong also build power lines and sell insulators)
# are vendors when they take part, but their projects need a digital component to count.
SERVICE_SECTORS = frozenset({"systems-integrator", "surveillance", "biometrics", "cloud", "data-centre",
                             "telecom-operator"})  # fmt: skip
EQUIPMENT_SECTORS = frozenset({"equipment", "submarine-cable-supplier", "submarine-cable-owner"})
# Components that make a deal one that builds or runs government data hosting, and the words of
# a title or flow type that make it training or teaching about them instead (AidData lists many
# ICT courses, scholarships and university laboratories that mention cloud computing).
HOSTING_TAGS = ("data_centre", "cloud", "e_government")
NOT_HOSTING = re.compile(r"\b(training|trainees?|scholarships?|students?|laborator(y|ies)|classrooms?|schools?|"
                         r"universit(y|ies)|courses?|seeds for the future|technical assistance)\b", re.I)

# Government body types (core.government_hosting.body_type), first match wins.
BODY_TYPES = (
    ("police", re.compile(r"\b(polic\w*|gendarm\w*|carabinier\w*)", re.I)),
    ("intelligence", re.compile(r"\bintelligence\b", re.I)),
    ("military", re.compile(r"\b(defen[cs]e|armed forces|army|military)\b", re.I)),
    ("security", re.compile(r"\b(interior|internal affairs|home affairs|public security|state security|"
                            r"national security|border)\b", re.I)),  # fmt: skip
    ("local", re.compile(r"\b(city|municipal\w*|county|metropolitan|district|province|provincial|mayor\w*|"
                         r"capital territory|governorate)\b", re.I)),  # fmt: skip
)


def government_body_type(name: str) -> str:
    for body_type, pattern in BODY_TYPES:
        if pattern.search(name):
            return body_type
    return "government"


def entity_id(source: str, deal_id: str) -> str:
    """The deal's id in risk.entities and core.government_hosting: ``<source>:<deal_id>``."""
    return f"{source}:{deal_id}"


# -- organisations named in project texts ----------------------------------------------------------
@cache
def registry_mentions() -> tuple[PhraseIndex, dict[str, frozenset[str]]]:
    """A phrase index over every registry name and alias, and each organisation's sectors.

    Short all-capital aliases (ZTE, CEIEC, ICBC) must match in capitals; other spellings match
    in their normalised form (legal suffixes dropped), so "Huawei Technologies Co., Ltd." is
    found as "Huawei Technologies"."""
    entries, sectors = [], {}
    for entry in load_registry():
        sectors[entry["id"]] = frozenset(entry.get("sectors") or ())
        for spelling in (entry["name"], *(entry.get("aliases") or ())):
            if re.fullmatch(r"[A-Z0-9]{2,7}", spelling):
                entries.append((entry["id"], spelling, True))
            elif normalised := normalise_name(spelling):
                entries.append((entry["id"], normalised, False))
    return PhraseIndex(entries), sectors


@cache
def vendor_ids() -> frozenset[str]:
    """Registry organisations that supply technology (service or equipment sectors)."""
    _, sectors = registry_mentions()
    return frozenset(org_id for org_id, s in sectors.items() if s & (SERVICE_SECTORS | EQUIPMENT_SECTORS))


@cache
def digital_vendor_ids() -> frozenset[str]:
    """Registry organisations whose taking part alone makes a project digital infrastructure."""
    _, sectors = registry_mentions()
    return frozenset(org_id for org_id, s in sectors.items() if s & SERVICE_SECTORS)


def mentioned_organisations(*texts: str | None) -> list[str]:
    index, _ = registry_mentions()
    found: list[str] = []
    for text in texts:
        found.extend(org_id for org_id in index.find(text) if org_id not in found)
    return found


# -- the deal model shared by the deal sources ---------------------------------------------------
@dataclass
class Deal:
    deal_id: str
    title: str
    release: str | None = None
    description: str | None = None
    status: str | None = None
    recipient: str | None = None
    recipient_iso3: str | None = None
    commitment_year: int | None = None
    signing_date: date | None = None
    sector_name: str | None = None
    flow_type: str | None = None
    amount_usd: float | None = None
    amount_basis: str | None = None
    project_id: str | None = None
    source_urls: list[str] = field(default_factory=list)
    mentioned_organisations: list[str] = field(default_factory=list)
    relevance: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PartyRef:
    """A party as the source names it. ``government`` marks a buyer that is a government body;
    ``specific`` is False for the generic "Government of <country>" derived from the recipient."""

    role: str
    name: str
    party_type: str | None = None
    government: bool = False
    specific: bool = True


class DealCollector:
    """Gathers the rows of every deal table for one source run."""

    def __init__(self, source: str, organisations: OrganisationCollector, taxonomy: Taxonomy | None = None):
        self.source = source
        self.organisations = organisations
        self.taxonomy = taxonomy or default_taxonomy()
        self.deals: dict[str, tuple] = {}
        self.parties: dict[tuple, tuple] = {}
        self.components: list[tuple] = []
        self.hosting: dict[tuple, tuple] = {}
        self.duplicates: list[str] = []

    def add(self, deal: Deal, parties: Iterable[PartyRef], components: Mapping[str, TagMatch]) -> None:
        if deal.deal_id in self.deals:
            self.duplicates.append(deal.deal_id)
            return
        parties = list(parties)
        self.deals[deal.deal_id] = (
            self.source, deal.deal_id, deal.release, deal.title, deal.description, deal.status, deal.recipient,
            deal.recipient_iso3, deal.commitment_year, deal.signing_date, deal.sector_name, deal.flow_type,
            deal.amount_usd, deal.amount_basis, deal.project_id, deal.source_urls,
            deal.mentioned_organisations, deal.relevance,
        )  # fmt: skip
        for party in parties:
            res = self.organisations.resolve(party.name)
            key = (self.source, deal.deal_id, party.role, res.organisation_id)
            if key in self.parties:  # two spellings (or two mentions) of one organisation in one role
                old = self.parties[key]
                names = old[4] if party.name in old[4].split("; ") else f"{old[4]}; {party.name}"
                self.parties[key] = (*key, names, old[5] or party.party_type)
            else:
                self.parties[key] = (*key, party.name, party.party_type)
        components = self._with_buyer_tags(components, parties)
        for tag, match in components.items():
            self.components.append((self.source, deal.deal_id, tag, list(match.words),
                                    list(match.fields)))  # fmt: skip
        self._add_hosting(deal, parties, components)

    def _with_buyer_tags(self, components: Mapping[str, TagMatch], parties: list[PartyRef]) -> dict[str, TagMatch]:
        """Buyer names classified with the party-name tags (e.g. police_security for a Ministry of
        Interior), merged into the text's components with the field "buyer"."""
        merged = dict(components)
        party_tags = self.taxonomy.party_name_tags
        for party in parties:
            if party.role != "buyer":
                continue
            for tag, words in self.taxonomy.classify(party.name, party_tags).items():
                old = merged.get(tag, TagMatch((), ()))
                merged[tag] = TagMatch(old.words + tuple(w for w in words if w not in old.words),
                                       old.fields + (() if "buyer" in old.fields else ("buyer",)))  # fmt: skip
        return {tag: merged[tag] for tag in self.taxonomy.tags if tag in merged}

    def _add_hosting(self, deal: Deal, parties: list[PartyRef], components: Mapping[str, TagMatch]) -> None:
        """A deal that builds or runs a government data centre, cloud or e-government platform (not
        training about them): one core.government_hosting row per government buyer (the specific
        agencies if the source names any, else the recipient government)."""
        hosting = [tag for tag in HOSTING_TAGS if tag in components]
        if not hosting or NOT_HOSTING.search(f"{deal.title} | {deal.flow_type or ''}"):
            return
        governments = [p for p in parties if p.role == "buyer" and p.government]
        specific = [p for p in governments if p.specific]
        what = "; ".join(f"{tag}: {', '.join(components[tag].words)}" for tag in hosting)
        for body in specific or governments:
            key = (self.source, "deal", entity_id(self.source, deal.deal_id), body.name)
            note = f"{what} ({self.source} {deal.deal_id}: {deal.title})"
            evidence = deal.source_urls[0] if deal.source_urls else None
            self.hosting[key] = (*key, government_body_type(body.name), deal.recipient_iso3, evidence, note)

    def rows(self) -> dict[str, list[tuple]]:
        return {
            DEALS.table: list(self.deals.values()),
            **self.organisations.rows(),
            DEAL_PARTIES.table: list(self.parties.values()),
            DEAL_COMPONENTS.table: self.components,
            GOVERNMENT_HOSTING.table: list(self.hosting.values()),
        }


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


def _cell(row: tuple, index: int | None) -> object:
    return row[index] if index is not None and index < len(row) else None


@contextmanager
def open_release(
    body: bytes, url: str = RELEASE_URL, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> Iterator[tuple[str, Iterator[dict[str, object]]]]:
    """``(release, records)`` of a release zip, records streamed as ``{official column: value}``
    (only the columns this module reads). The workbook is spooled to a temporary file, never
    held in memory; openpyxl reads it in read-only mode. A workbook that declares, or expands to,
    more than ``max_uncompressed_bytes`` is refused (SourceFormatError) with at most that much spooled."""
    import openpyxl

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
            spool.seek(0)
            try:
                workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
            except (zipfile.BadZipFile, KeyError, OSError) as exc:
                raise SourceFormatError(f"{url}: {member or 'the payload'} is not a readable xlsx workbook: {exc}") from exc
            try:
                sheets = [s for s in workbook.sheetnames if s.startswith(SHEET_PREFIX)]
                if not sheets:
                    raise SourceFormatError(f"{url}: no sheet named {SHEET_PREFIX}<release> (sheets: {workbook.sheetnames})")
                sheet = workbook[sheets[0]]
                sheet.reset_dimensions()  # do not trust the file's recorded dimensions: read every cell
                yield sheets[0].removeprefix(SHEET_PREFIX), _records(sheet.iter_rows(values_only=True), url)
            finally:
                workbook.close()


def _records(rows: Iterator[tuple], url: str) -> Iterator[dict[str, object]]:
    header = next(rows, None)
    if header is None:
        raise SourceFormatError(f"{url}: the dataset sheet is empty")
    positions = {" ".join(str(name).split()): i for i, name in enumerate(header) if name is not None}
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise SourceFormatError(f"{url}: the dataset sheet lacks column(s) {missing}; the release's schema may "
                                f"have changed (header starts {list(positions)[:8]})")  # fmt: skip
    wanted = {c: positions.get(c) for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    id_index = positions[RECORD_ID]
    for row in _readable(rows, url):
        record_id = _cell(row, id_index)
        if record_id is None or str(record_id).strip() == "":
            continue
        yield {name: _cell(row, index) for name, index in wanted.items()}


def _readable(rows: Iterator[tuple], url: str) -> Iterator[tuple]:
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
def _number(value: object, what: str) -> float | None:
    """A number as the workbook holds it (a number, or text such as "1,234.5"); empty is None,
    anything else makes the record unreadable. NaN and infinity pass, for validation to refuse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{what} {value!r} is not a number ({type(value).__name__})")
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            raise ValueError(f"{what} {value!r} is not a number") from None
    return value


def _as_year(value: object, what: str = "Commitment Year") -> int | None:
    number = _number(value, what)
    if number is None:
        return None
    if isinstance(number, float) and not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a year")
    return int(number)


def _as_amount(value: object, what: str = "Amount (Constant USD 2021)") -> float | None:
    number = _number(value, what)
    return None if number is None else round(float(number), 2)


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
        commitment_year=_as_year(record.get("Commitment Year")), sector_name=sector,
        flow_type=clean_text(record.get("Flow Type")), amount_usd=_as_amount(record.get("Amount (Constant USD 2021)")),
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
