"""Hostile World Bank (Socrata kdui-wcs3) pages: each case damages the fixture one way.

The good run is the first (everything the supplier filter allows); the hostile run is the next
week's incremental read, contracts signed after the cursor (2021-03-28) minus the two-year overlap,
so the replay directory holds both sets of pages and each case damages the second.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dsrwatch.expectations import ChangeGuard
from dsrwatch.fetching import url_to_relative_path
from dsrwatch.sources import worldbank_contracts as wb

from helpers import deals_fixtures as fx
from helpers.db import scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

PAGE = 4
CURSOR = {"max_signing_date": "2021-03-28"}  # what the good run leaves
SINCE = date(2019, 3, 29)  # what the hostile run asks for: the cursor minus 730 days
HOSTILE_NAME = "<script>alert(1)</script>'; DROP TABLE core.deals; -- {{ 7*7 }} {% raw %}"
KEY = "worldbank_contracts|{}".format


def recent(rows: list[dict]) -> list[dict]:
    """What Socrata answers to the hostile run: contracts signed after SINCE."""
    return [r for r in rows if date.fromisoformat(r["contract_signing_date"][:10]) > SINCE]


def write_good(root: Path) -> Path:
    fx.write_worldbank_replay(root, fx.WB_ROWS, page_size=PAGE)  # the good (first) run
    return fx.write_worldbank_replay(root, recent(fx.WB_ROWS), since=SINCE, page_size=PAGE)  # the hostile run


def page(body: bytes, offset: int = 0):
    return lambda root: (root / url_to_relative_path(wb.page_url(SINCE, offset))).write_bytes(body)


def rows(change):
    """Rewrite the hostile run's pages from ``change(rows)``."""
    return lambda root: fx.write_worldbank_replay(root, change(copy.deepcopy(recent(fx.WB_ROWS))), since=SINCE,
                                                  page_size=PAGE)  # fmt: skip


def contract(number: str, **changes):
    return rows(lambda rs: [{**r, **changes} if r["wb_contract_number"] == number else r for r in rs])


def without(number: str, field: str):
    return rows(lambda rs: [{k: v for k, v in r.items() if k != field or r["wb_contract_number"] != number}
                            for r in rs])  # fmt: skip


def listed_again(number: str, **changes):
    """The contract's (first) supplier row listed a second time, with other values."""
    return rows(lambda rs: rs + [{**next(r for r in rs if r["wb_contract_number"] == number), **changes}])


STRICT = {"incremental_change_guard": ChangeGuard(max_added_fraction=None, always_allowed=1)}

CASES = [
    # a page that cannot be read at all fails the run, naming it
    Case("page truncated", page(b'[{"wb_contract_number": "1700001", "supp'), FAILED,
         r"https://finances\.worldbank\.org/resource/kdui-wcs3\.json\?.*\$offset=0: not valid JSON"),
    Case("page empty", page(b""), FAILED, r"kdui-wcs3\.json\?.*: not valid JSON"),
    Case("page is an HTML error page", page(b"<html><body><h1>503 Service Unavailable</h1></body></html>"), FAILED,
         r"kdui-wcs3\.json\?.*: not valid JSON"),
    Case("Socrata error object", page(b'{"error": true, "message": "query timed out"}', offset=4), FAILED,
         r"kdui-wcs3\.json\?.*\$offset=4: Socrata returned an error object instead of rows: query timed out"),
    Case("page is a JSON string", page(b'"no rows"'), FAILED,
         r"kdui-wcs3\.json\?.*: expected a JSON list of contract rows, got str"),
    # a record that cannot be read is set aside; the rest of the run loads
    Case("row is a JSON array", rows(lambda rs: [["1700001", "2021-03-28"], *rs]), SET_ASIDE,
         r"^core\.deals: unreadable record: TypeError: expected an object per row, got list$", record_key="row 0"),
    Case("supplier is an object", contract("1700004", supplier={"name": "HUAWEI"}), SET_ASIDE,
         r"unreadable record: TypeError: supplier is \{'name': 'HUAWEI'\}, expected text", record_key=KEY("1700004")),
    Case("amount is not a number", contract("1700004", supplier_contract_amount_usd="9.8m"), SET_ASIDE,
         r"supplier_contract_amount_usd '9\.8m' is not a number", record_key=KEY("1700004")),
    Case("signing date is not a date", contract("1700003", contract_signing_date="19/06/2019"), SET_ASIDE,
         r"contract_signing_date '19/06/2019' is not an ISO date", record_key=KEY("1700003")),
    Case("the same supplier listed twice with different values",
         listed_again("1700001", supplier_contract_amount_usd="26592300"), SET_ASIDE,
         r"the source lists this key twice with different values", record_key=KEY("1700001"),
         field="supplier_contract_amount_usd"),
    Case("NUL byte in a description", contract("1700001", contract_description=(
        "PROCUREMENT OF ICT EQUIPMENT FOR COMMAND CONTROL ROOM (CCR)\x00")), SET_ASIDE, r"contains a NUL byte",
         record_key=KEY("1700001"), field="title"),
    Case("NUL byte in a supplier name", contract("1700003", supplier="ZTE\x00CORPORATION"), SET_ASIDE,
         r"supplier 'ZTE\\x00CORPORATION' contains a NUL byte", record_key=KEY("1700003")),
    Case("10 kB supplier name", contract("1700003", supplier="ZTE " * 2_500), SET_ASIDE,
         r"supplier is 9999 bytes long, at most 1000 allowed", record_key=KEY("1700003")),
    Case("NaN amount", contract("1700001", supplier_contract_amount_usd="NaN"), SET_ASIDE,
         r"not a finite number \(NaN or infinity\)", record_key=KEY("1700001"), field="amount_usd"),
    Case("infinite amount", contract("1700001", supplier_contract_amount_usd="1e999"), SET_ASIDE,
         r"not a finite number", record_key=KEY("1700001"), field="amount_usd"),
    Case("negative amount", contract("1700005", supplier_contract_amount_usd="-717412"), SET_ASIDE,
         r"outside 0\.\.1000000000000", record_key=KEY("1700005"), field="amount_usd"),
    # a future date is set aside and never becomes the cursor (1700001 holds the newest date)
    Case("signed 9999-12-31", contract("1700001", contract_signing_date="9999-12-31T00:00:00.000"), SET_ASIDE,
         r"year outside 1700\.\.2200", record_key=KEY("1700001"), field="signing_date"),
    Case("signed next year", contract("1700001", contract_signing_date=f"{datetime.now(UTC).year + 1}-06-01T00:00:00.000"),
         SET_ASIDE, r"^core\.deals: in the future \(after \d{4}-\d\d-\d\d\)$", record_key=KEY("1700001"),
         field="signing_date"),
    # documented: a row without a contract number is skipped and counted, not set aside
    Case("row without a contract number", without("1700003", "wb_contract_number"), LOADED, ""),
    # every row unreadable: the source is broken, not a record
    Case("every row unreadable", rows(lambda rs: [list(r.values()) for r in rs]), QUARANTINED,
         r"worldbank_contracts run \d+ quarantined.*7 of 7 records set aside as invalid", spec_changes=STRICT),
    Case("names carrying HTML, SQL and Jinja", contract("1700001", project_name=HOSTILE_NAME), LOADED, ""),
]  # fmt: skip


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(wb, "PAGE_SIZE", PAGE)


def test_the_hostile_run_reads_the_pages_the_cases_damage():
    assert wb.query_start(CURSOR) == SINCE
    assert len(recent(fx.WB_ROWS)) == 7


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_worldbank_payload(case, hostile, warehouse):
    changed = ("deals", "entity_changes") if case.id.startswith("names carrying") else ()
    hostile("worldbank_contracts", write_good, case, changed_tables=changed)
    # the cursor never moved: not to a future date, not back
    assert scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'worldbank_contracts'") == CURSOR
    if case.id.startswith("signed"):
        assert scalar(warehouse, "SELECT signing_date FROM analyst.deals WHERE deal_id = '1700001'") == date(2021, 3, 28)
    if case.id == "row without a contract number":
        warnings = scalar(warehouse, "SELECT details -> 'warnings' FROM ops.source_runs ORDER BY run_id DESC LIMIT 1")
        assert "1 rows without wb_contract_number skipped" in warnings
    if case.id.startswith("names carrying"):
        description = scalar(warehouse, "SELECT description FROM analyst.deals WHERE deal_id = '1700001'")
        assert f"World Bank project P161000 ({HOSTILE_NAME})" in description  # stored as the data it is
