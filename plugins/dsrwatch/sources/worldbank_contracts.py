"""World Bank Major Contract Awards (Socrata dataset ``kdui-wcs3``), contracts with PRC suppliers.

Endpoint: ``https://finances.worldbank.org/resource/kdui-wcs3.json`` with SoQL ``$where``,
``$order``, ``$limit`` and ``$offset`` paging (a short page ends the run). Fields used:
borrower_country (+ borrower_country_code), project_id, project_name, procurement_category,
contract_description, contract_signing_date, supplier, supplier_country,
supplier_contract_amount_usd, wb_contract_number, major_sector.

The server-side filter is deliberately short (the replay file name holds the query, and a file
name may not exceed 255 bytes): suppliers registered in China or Hong Kong, or whose name
contains HUAWEI or ZTE (their Singapore and Hong Kong arms). After parsing, a contract is kept
when a supplier resolves to a registry firm with a digital service sector (Huawei, ZTE, CEIEC,
Hytera...), or is registered in the PRC / Hong Kong / Macao and the contract description names
a digital component (taxonomy); cable and equipment makers such as ZTT also sell insulators and
power lines, so they need the component too. Contracts whose borrower is China itself are
domestic and dropped.

Incremental by ``contract_signing_date``: the cursor is the latest signing date loaded; the next
run asks for ``contract_signing_date > cursor - OVERLAP_DAYS``. The Bank publishes contracts
late (in the FY2021 file, 5% were published more than 715 days after signing), so the overlap
is two years; reset ``ops.source_cursors`` for a full reload. Batches are incremental
(``complete=False``): nothing is marked removed.

The cursor comes only from trusted dates: a contract that cannot be read, or a signing date after
now + ``CLOCK_MARGIN`` (one contract "signed" 9999-12-31 once made every later run ask for nothing),
never moves it, and it never moves past now + ``CLOCK_MARGIN``. A stored cursor ahead of that, or
unreadable, is ignored with a warning: the run reads everything again.

Records: a row that is not an object, or a contract with a field of the wrong type or a value that
does not convert (an amount, a date), is set aside with the reason and the rest of the run loads;
so is a contract that lists the same supplier twice with different values. Rows without
``wb_contract_number`` are skipped and counted (a warning). A page that is not a JSON list of rows
(an error page, a truncated body, Socrata's error object) fails the run.

One deal per ``wb_contract_number`` (consortium members come as one row each): every supplier is
a vendor, the borrower's government the buyer, the World Bank the financier (not PRC). The
amount is the largest reported under the number (member rows repeat the contract total).
Licence: CC BY 4.0 (World Bank open data; the dataset's Socrata metadata says CC BY 3.0).
"""

from __future__ import annotations

import logging
import math
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta

from dsrwatch.deals import (
    DEAL_TABLES,
    DEALS,
    Deal,
    DealCollector,
    PartyRef,
    digital_vendor_ids,
    mentioned_organisations,
)
from dsrwatch.fetching import FetchedResponse, Fetcher, build_url
from dsrwatch.normalise import values
from dsrwatch.normalise.components import default_taxonomy, relevant_tags
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
    load_json,
    record_key,
    set_aside_on_error,
)
from dsrwatch.validation import key_text
from dsrwatch.warehouse.tables import RawPayload

log = logging.getLogger(__name__)

HOST = "finances.worldbank.org"
RESOURCE_URL = f"https://{HOST}/resource/kdui-wcs3.json"
PAGE_SIZE = 1000
MAX_PAGES = 500  # 500,000 rows: far beyond the dataset; a server that never ends a page is a bug
OVERLAP_DAYS = 730
SUPPLIER_FILTER = ("(supplier_country='China' OR supplier_country like 'Hong Kong%' "
                   "OR upper(supplier) like '%HUAWEI%' OR upper(supplier) like '%ZTE%')")  # fmt: skip
PRC_REGISTRATION = re.compile(r"^\s*(China|Hong Kong|Macao|Macau)\b", re.I)
WORLD_BANK = "World Bank"
# A date later than now + this is not trusted (NotAfterFetch's margin).
CLOCK_MARGIN = timedelta(days=2)

SOURCE = SourceSpec(
    name="worldbank_contracts",
    title="World Bank Major Contract Awards (kdui-wcs3), contracts with PRC suppliers",
    category="deals",
    hosts=(HOST,),
    homepage="https://finances.worldbank.org/Procurement/Major-Contract-Awards/kdui-wcs3",
    licence="CC BY 4.0",
    attribution="The World Bank, Major Contract Awards",
    schedule="30 3 * * 1",  # weekly, Monday 03:30 UTC, ahead of the 06:00 digest
    # core.deals declares the rules this source relies on (dsrwatch.deals.DEALS): commitment years 1949..2100,
    # amounts 0..10**12, no signing date after the fetch - the one that keeps a contract "signed"
    # 9999-12-31 out (tests/unit/test_worldbank_contracts.py checks they stay declared).
    tables=DEAL_TABLES,
    expectations=(
        # Shared with aiddata: the lower bound must hold when this source runs first.
        RowCountBounds("core.deals", 5, 8_000, scope_column="source"),
        MaxNullFraction("core.deals", "recipient_iso3", 0.25, scope_column="source"),  # regional borrowers ("Eastern Africa")
    ),
    politeness_delay=1.0,
    views=("analyst.deals",),
    # Each run re-reads two years of contracts (late publication); a first incremental run after
    # the baseline may add more contracts than the baseline held.
    incremental_change_guard=ChangeGuard(max_added_fraction=None),
    # A page of contracts is well under 10 MB.
    max_payload_bytes=64 * 2**20,
)


# -- fetch -------------------------------------------------------------------------------------
def trusted_cursor_date(cursor: dict | None, now: datetime | None = None) -> date | None:
    """The cursor's latest signing date, or None - with a warning - when it cannot be right:
    unreadable, or after now + CLOCK_MARGIN (every later run would ask for nothing)."""
    latest = (cursor or {}).get("max_signing_date") if isinstance(cursor, dict | None) else cursor
    if latest is None:
        return None
    now = datetime.now(UTC) if now is None else now
    try:
        value = date.fromisoformat(latest)
    except (TypeError, ValueError):
        log.warning("worldbank_contracts: the stored cursor looks wrong (max_signing_date %s is not a date); "
                    "reading everything again", values.shown(latest))  # fmt: skip
        return None
    if value > (now + CLOCK_MARGIN).date():
        log.warning("worldbank_contracts: the stored cursor looks wrong (max_signing_date %s is ahead of today, "
                    "%s, + %d days); reading everything again", value, now.date(), CLOCK_MARGIN.days)  # fmt: skip
        return None
    return value


def query_start(cursor: dict | None, now: datetime | None = None) -> date | None:
    """The signing date after which the run asks for contracts: cursor minus the overlap."""
    latest = trusted_cursor_date(cursor, now)
    return latest - timedelta(days=OVERLAP_DAYS) if latest else None


def where_clause(since: date | None) -> str:
    return f"contract_signing_date>'{since.isoformat()}' AND {SUPPLIER_FILTER}" if since else SUPPLIER_FILTER


def page_params(since: date | None, offset: int) -> dict[str, object]:
    """Query parameters of one page, in the order they are sent (the replay file name uses it)."""
    return {"$where": where_clause(since), "$order": ":id", "$limit": PAGE_SIZE, "$offset": offset}


def page_url(since: date | None, offset: int) -> str:
    return build_url(RESOURCE_URL, page_params(since, offset))


def _rows(body: bytes, url: str) -> list:
    data = load_json(body, url)
    if isinstance(data, dict):  # Socrata answers a bad query with {"error": true, "message": ...}
        raise SourceFormatError(f"{url}: Socrata returned an error object instead of rows: "
                                f"{data.get('message') or data}")  # fmt: skip
    if not isinstance(data, list):
        raise SourceFormatError(f"{url}: expected a JSON list of contract rows, got {type(data).__name__}")
    return data


def fetch(fetcher: Fetcher, cursor: dict | None = None, *, now: datetime | None = None) -> Iterator[FetchedResponse]:
    """Pages of PRC-supplier contracts signed after the cursor minus the overlap (all on the first run)."""
    since = query_start(cursor, now)
    for page in range(MAX_PAGES):
        response = fetcher.get(RESOURCE_URL, page_params(since, page * PAGE_SIZE))
        yield response
        if len(_rows(response.body, response.url)) < PAGE_SIZE:
            return
    raise SourceFormatError(f"{RESOURCE_URL}: still full pages after {MAX_PAGES}; is $offset ignored?")


# -- parse -------------------------------------------------------------------------------------
# The fields a contract is read from; two rows of one supplier under one number must agree on them.
FIELDS = ("borrower_country", "borrower_country_code", "project_id", "project_name", "procurement_category",
          "procurement_method", "contract_description", "contract_signing_date", "supplier", "supplier_country",
          "supplier_contract_amount_usd", "major_sector")  # fmt: skip


def _text(row: dict, name: str) -> str | None:
    """A field as text (Socrata sends strings; a number is taken as written); an object or a list
    where text belongs makes the record unreadable."""
    value = row.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise TypeError(f"{name} is {values.shown(value)}, expected text")
    return clean_text(value)


def _supplier(row: dict) -> str | None:
    """The supplier's name, which becomes an organisation's key: a NUL byte or a name too long for
    a key makes the contract unreadable (one record set aside, not one per table it would reach)."""
    return key_text(_text(row, "supplier"), "supplier")


def _signing_date(value: object) -> date | None:
    """Socrata floating timestamps ("2021-03-28T00:00:00.000") -> date; None when absent."""
    return values.iso_date(_text({"contract_signing_date": value}, "contract_signing_date"), "contract_signing_date")


def _amount(value: object) -> float | None:
    """A USD amount; None when absent. NaN, infinity and negative amounts are returned as they are,
    for the declared rules to reject with the field named; text that is not a number is unreadable."""
    return values.amount(_text({"supplier_contract_amount_usd": value}, "supplier_contract_amount_usd"),
                         "supplier_contract_amount_usd")


def _first(rows: list[dict], name: str) -> str | None:
    return next((text for r in rows if (text := _text(r, name))), None)


def _contradiction(rows: list[dict]) -> tuple[str, str] | None:
    """(field, 'value / value') when one supplier is listed twice under one contract number with
    different values: the source contradicts itself about the contract."""
    seen: dict[tuple, dict] = {}
    for row in rows:
        supplier = (_text(row, "supplier"), _text(row, "supplier_country"))
        first = seen.setdefault(supplier, row)
        for name in FIELDS:
            if _text(first, name) != _text(row, name):
                return name, f"{values.shown(_text(first, name))} / {values.shown(_text(row, name))}"
    return None


def _offset(url: str) -> int:
    offsets = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("$offset") or ["0"]
    return int(offsets[0]) if offsets[0].isdigit() else 0


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None,
    *, now: datetime | None = None,
) -> ParsedBatch:
    """The pages of one run -> deals (one per contract number), parties and components.

    ``now``: the upper bound for trusted dates (default: when the pages were fetched, else the
    current UTC time); signing dates after ``now`` + CLOCK_MARGIN never move the cursor
    (validation sets such contracts aside)."""
    set_aside: list[SetAside] = []
    contracts: dict[str, list[tuple[dict, str]]] = {}
    no_number = 0
    fetched = []
    for payload in payloads:
        fetched.append(payload.fetched_at)
        offset = _offset(payload.url)
        for position, row in enumerate(_rows(payload.body, payload.url), start=offset):
            key = _text(row, "wb_contract_number") if isinstance(row, dict) and _readable_number(row) else None
            with set_aside_on_error(set_aside, DEALS.table, key or f"row {position}", payload.url):
                if not isinstance(row, dict):
                    raise TypeError(f"expected an object per row, got {type(row).__name__}")
                number = _text(row, "wb_contract_number")
                if number is None:
                    no_number += 1
                    continue
                contracts.setdefault(number, []).append((row, payload.url))

    now = now or max((t for t in fetched if t is not None), default=None) or datetime.now(UTC)
    limit = (now + CLOCK_MARGIN).date()
    organisations = OrganisationCollector(resolver)
    taxonomy = default_taxonomy()
    vendors = digital_vendor_ids()
    deals = DealCollector(SOURCE.name, organisations, taxonomy)
    counts = {"domestic": 0, "future": 0}

    def add_contract(number: str, rows: list[dict], url: str) -> list[date]:
        """Adds the contract's deal if it is a digital PRC-supplier one; returns its signing dates.
        Raises (TypeError, ValueError...) when the contract cannot be read."""
        dates = [d for d in (_signing_date(r.get("contract_signing_date")) for r in rows) if d is not None]
        contradiction = _contradiction(rows)
        if contradiction:
            field, both = contradiction
            set_aside.append(SetAside(DEALS.table, record_key(SOURCE.name, number), field, both,
                                      "the source lists this key twice with different values (one supplier, two "
                                      "versions)", url, (SOURCE.name, number)))  # fmt: skip
            return []
        borrower = _first(rows, "borrower_country")
        if borrower and borrower.casefold() == "china":
            counts["domestic"] += 1
            return dates
        description = _first(rows, "contract_description")
        components = taxonomy.classify_fields({"title": description})
        digital = relevant_tags(taxonomy, components)
        suppliers: list[tuple[str, str | None]] = []
        for row in rows:
            name = _supplier(row)
            if name and (name, _text(row, "supplier_country")) not in suppliers:
                suppliers.append((name, _text(row, "supplier_country")))
        amounts = [a for a in (_amount(r.get("supplier_contract_amount_usd")) for r in rows) if a is not None]
        relevance = sorted({f"prc_vendor:{org}" for name, _ in suppliers
                            if (org := organisations.resolver.resolve(name).organisation_id) in vendors})  # fmt: skip
        prc_registered = [name for name, country in suppliers if country and PRC_REGISTRATION.match(country)]
        if prc_registered and digital:
            relevance += [f"component:{tag}" for tag in digital]
        if not relevance:
            return dates
        signed = min(dates, default=None)
        iso3 = to_iso3(_first(rows, "borrower_country_code")) or to_iso3(borrower)
        project_id = _first(rows, "project_id")
        project_name = _first(rows, "project_name")
        details = [f"World Bank project {project_id}" + (f" ({project_name})" if project_name else "")] if project_id else []
        category = _first(rows, "procurement_category")
        if category:
            details.append(f"procurement: {category}" + (f", {m}" if (m := _first(rows, "procurement_method")) else ""))
        # Member rows repeat the contract total: the largest. One the rules reject (NaN, infinite,
        # negative) is kept as it is, so validation sets the contract aside naming amount_usd.
        wrong = [a for a in amounts if not math.isfinite(a) or a < 0]
        amount = wrong[0] if wrong else max(amounts) if amounts else None
        deal = Deal(
            deal_id=number, title=description or f"World Bank contract {number}",
            description="; ".join(filter(None, [description, *details])) or None, status="signed",
            recipient=borrower, recipient_iso3=iso3, commitment_year=signed.year if signed else None,
            signing_date=signed, sector_name=_first(rows, "major_sector"), flow_type=category,
            amount_usd=amount, amount_basis="nominal USD", project_id=project_id,
            source_urls=[f"https://projects.worldbank.org/en/projects-operations/project-detail/{project_id}"]
            if project_id else [],
            mentioned_organisations=mentioned_organisations(description), relevance=relevance,
        )  # fmt: skip
        parties = [PartyRef("vendor", name, f"supplier registered in {country}" if country else "supplier")
                   for name, country in suppliers]  # fmt: skip
        parties.append(PartyRef("financier", WORLD_BANK, "IBRD/IDA"))
        if iso3:  # regional borrowers ("Eastern Africa") are not one government
            parties.append(PartyRef("buyer", f"Government of {iso3_name(iso3)}", "Borrower government",
                                    government=True, specific=False))  # fmt: skip
        deals.add(deal, parties, components)
        return dates

    latest = None
    for number, entries in contracts.items():
        rows = [row for row, _ in entries]
        distinct = list({repr(sorted(row.items())): row for row in rows}.values())  # exact repeats are one row
        dates: list[date] = []
        with set_aside_on_error(set_aside, DEALS.table, record_key(SOURCE.name, number), entries[0][1],
                                entity_key=(SOURCE.name, number)):  # fmt: skip
            dates = add_contract(number, distinct, entries[0][1])
        for signed in dates:  # only contracts read whole; never a date in the future
            if signed > limit:
                counts["future"] += 1
            elif latest is None or signed > latest:
                latest = signed

    previous = trusted_cursor_date(cursor, now)
    newest = max(filter(None, [latest, previous]), default=None)
    warnings = [f"{sum(len(r) for r in contracts.values())} rows in {len(contracts)} contracts; "
                f"{len(deals.deals)} digital deals with PRC suppliers kept, {counts['domestic']} domestic "
                "(borrower China) dropped"]  # fmt: skip
    if no_number:
        warnings.append(f"{no_number} rows without wb_contract_number skipped")
    if counts["future"]:
        warnings.append(f"{counts['future']} rows signed after {limit} (in the future) left out of the cursor")
    log.info("worldbank_contracts: %s", warnings[0])
    return ParsedBatch(
        rows=deals.rows(), entities=len(deals.deals), complete=False, deleted_keys={},
        cursor={"max_signing_date": newest.isoformat()} if newest else None, warnings=warnings, set_aside=set_aside,
    )  # fmt: skip


def _readable_number(row: dict) -> bool:
    value = row.get("wb_contract_number")
    return isinstance(value, str | int) and not isinstance(value, bool)
