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

One deal per ``wb_contract_number`` (consortium members come as one row each): every supplier is
a vendor, the borrower's government the buyer, the World Bank the financier (not PRC). The
amount is the largest reported under the number (member rows repeat the contract total).
Licence: CC BY 4.0 (World Bank open data; the dataset's Socrata metadata says CC BY 3.0).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from dsrwatch.fetching import FetchedResponse, Fetcher, build_url
from dsrwatch.normalise.components import default_taxonomy, relevant_tags
from dsrwatch.normalise.countries import iso3_name, to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.aiddata import (
    DEAL_TABLES,
    Deal,
    DealCollector,
    PartyRef,
    digital_vendor_ids,
    mentioned_organisations,
)
from dsrwatch.sources.base import (
    ChangeGuard,
    MaxNullFraction,
    OrganisationCollector,
    ParsedBatch,
    RowCountBounds,
    SourceFormatError,
    SourceSpec,
    load_json,
)
from dsrwatch.warehouse.raw import RawPayload

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

SOURCE = SourceSpec(
    name="worldbank_contracts",
    title="World Bank Major Contract Awards (kdui-wcs3), contracts with PRC suppliers",
    category="deals",
    hosts=(HOST,),
    homepage="https://finances.worldbank.org/Procurement/Major-Contract-Awards/kdui-wcs3",
    licence="CC BY 4.0",
    attribution="The World Bank, Major Contract Awards",
    schedule="30 3 * * 1",  # weekly, Monday 03:30 UTC, ahead of the 06:00 digest
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
)


# -- fetch -------------------------------------------------------------------------------------
def query_start(cursor: dict | None) -> date | None:
    """The signing date after which the run asks for contracts: cursor minus the overlap."""
    latest = (cursor or {}).get("max_signing_date")
    return date.fromisoformat(latest) - timedelta(days=OVERLAP_DAYS) if latest else None


def where_clause(since: date | None) -> str:
    return f"contract_signing_date>'{since.isoformat()}' AND {SUPPLIER_FILTER}" if since else SUPPLIER_FILTER


def page_params(since: date | None, offset: int) -> dict[str, object]:
    """Query parameters of one page, in the order they are sent (the replay file name uses it)."""
    return {"$where": where_clause(since), "$order": ":id", "$limit": PAGE_SIZE, "$offset": offset}


def page_url(since: date | None, offset: int) -> str:
    return build_url(RESOURCE_URL, page_params(since, offset))


def _rows(body: bytes, url: str) -> list[dict]:
    data = load_json(body, url)
    if isinstance(data, dict):  # Socrata answers a bad query with {"error": true, "message": ...}
        raise SourceFormatError(f"{url}: Socrata returned an error object instead of rows: "
                                f"{data.get('message') or data}")  # fmt: skip
    if not isinstance(data, list):
        raise SourceFormatError(f"{url}: expected a JSON list of contract rows, got {type(data).__name__}")
    return data


def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """Pages of PRC-supplier contracts signed after the cursor minus the overlap (all on the first run)."""
    since = query_start(cursor)
    for page in range(MAX_PAGES):
        response = fetcher.get(RESOURCE_URL, page_params(since, page * PAGE_SIZE))
        yield response
        if len(_rows(response.body, response.url)) < PAGE_SIZE:
            return
    raise SourceFormatError(f"{RESOURCE_URL}: still full pages after {MAX_PAGES}; is $offset ignored?")


# -- parse -------------------------------------------------------------------------------------
def _signing_date(value: object) -> date | None:
    """Socrata floating timestamps ("2021-03-28T00:00:00.000") -> date."""
    text = clean_text(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "")).date()
    except ValueError:
        return None


def _amount(value: object) -> float | None:
    try:
        return round(float(str(value).replace(",", "")), 2) if clean_text(value) else None
    except ValueError:
        return None


def _first(rows: list[dict], name: str) -> str | None:
    return next((clean_text(r.get(name)) for r in rows if clean_text(r.get(name))), None)


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """The pages of one run -> deals (one per contract number), parties and components."""
    contracts: dict[str, list[dict]] = {}
    no_number, latest = 0, None
    for payload in payloads:
        for row in _rows(payload.body, payload.url):
            if not isinstance(row, dict):
                raise SourceFormatError(f"{payload.url}: expected JSON objects for rows, got {type(row).__name__}")
            signed = _signing_date(row.get("contract_signing_date"))
            if signed and (latest is None or signed > latest):
                latest = signed
            number = clean_text(row.get("wb_contract_number"))
            if number is None:
                no_number += 1
                continue
            contracts.setdefault(number, []).append(row)

    organisations = OrganisationCollector(resolver)
    taxonomy = default_taxonomy()
    vendors = digital_vendor_ids()
    deals = DealCollector(SOURCE.name, organisations, taxonomy)
    domestic = 0
    for number, rows in contracts.items():
        borrower = _first(rows, "borrower_country")
        if borrower and borrower.casefold() == "china":
            domestic += 1
            continue
        description = _first(rows, "contract_description")
        components = taxonomy.classify_fields({"title": description})
        digital = relevant_tags(taxonomy, components)
        suppliers: list[tuple[str, str | None]] = []
        for row in rows:
            name = clean_text(row.get("supplier"))
            if name and (name, clean_text(row.get("supplier_country"))) not in suppliers:
                suppliers.append((name, clean_text(row.get("supplier_country"))))
        relevance = sorted({f"prc_vendor:{org}" for name, _ in suppliers
                            if (org := organisations.resolver.resolve(name).organisation_id) in vendors})  # fmt: skip
        prc_registered = [name for name, country in suppliers if country and PRC_REGISTRATION.match(country)]
        if prc_registered and digital:
            relevance += [f"component:{tag}" for tag in digital]
        if not relevance:
            continue
        signed = min(filter(None, (_signing_date(r.get("contract_signing_date")) for r in rows)), default=None)
        iso3 = to_iso3(_first(rows, "borrower_country_code")) or to_iso3(borrower)
        project_id = _first(rows, "project_id")
        project_name = _first(rows, "project_name")
        details = [f"World Bank project {project_id}" + (f" ({project_name})" if project_name else "")] if project_id else []
        category = _first(rows, "procurement_category")
        if category:
            details.append(f"procurement: {category}" + (f", {m}" if (m := _first(rows, "procurement_method")) else ""))
        amounts = [a for a in (_amount(r.get("supplier_contract_amount_usd")) for r in rows) if a is not None]
        deal = Deal(
            deal_id=number, title=description or f"World Bank contract {number}",
            description="; ".join(filter(None, [description, *details])) or None, status="signed",
            recipient=borrower, recipient_iso3=iso3, commitment_year=signed.year if signed else None,
            signing_date=signed, sector_name=_first(rows, "major_sector"), flow_type=category,
            amount_usd=max(amounts) if amounts else None, amount_basis="nominal USD", project_id=project_id,
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

    previous = (cursor or {}).get("max_signing_date")
    newest = max(filter(None, [latest.isoformat() if latest else None, previous]), default=None)
    warnings = [f"{sum(len(r) for r in contracts.values())} rows in {len(contracts)} contracts; "
                f"{len(deals.deals)} digital deals with PRC suppliers kept, {domestic} domestic (borrower China) dropped"]  # fmt: skip
    if no_number:
        warnings.append(f"{no_number} rows without wb_contract_number skipped")
    log.info("worldbank_contracts: %s", warnings[0])
    return ParsedBatch(
        rows=deals.rows(), entities=len(deals.deals), complete=False, deleted_keys={},
        cursor={"max_signing_date": newest} if newest else cursor, warnings=warnings,
    )  # fmt: skip
