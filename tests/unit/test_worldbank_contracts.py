"""World Bank Major Contract Awards (Socrata kdui-wcs3): paging, the incremental cursor, and the
PRC-supplier / digital filter, on hand-made pages in the API's JSON shape."""

import json
import logging
import math
import re
from datetime import UTC, date, datetime

import pytest

from dsrwatch.fetching import Fetcher, url_to_relative_path
from dsrwatch.sources import worldbank_contracts as wb
from dsrwatch.sources.base import NotAfterFetch, Range, SourceFormatError
from dsrwatch.warehouse.raw import RawPayload

from helpers import deals_fixtures as fx


def payloads(rows, page_size=1000, since=None):
    pages = [rows[i:i + page_size] for i in range(0, len(rows), page_size)] or [[]]
    return [RawPayload(wb.page_url(since, n * page_size), json.dumps(p).encode()) for n, p in enumerate(pages)]


def plain(row):
    return tuple(getattr(v, "obj", v) for v in row)


def rows_of(batch, name):
    return [plain(r) for r in batch.rows[name]]


@pytest.fixture
def replay_fetcher(tmp_path):
    fetchers = []

    def make(rows, since=None, page_size=None):
        fx.write_worldbank_replay(tmp_path, rows, since, page_size)
        fetcher = Fetcher(replay_dirs=[tmp_path], record_dir=None)
        fetchers.append(fetcher)
        return fetcher

    yield make
    for fetcher in fetchers:
        fetcher.close()


# -- paging and cursor -------------------------------------------------------------------------
def test_pages_until_a_short_page(replay_fetcher, monkeypatch):
    monkeypatch.setattr(wb, "PAGE_SIZE", 3)
    fetcher = replay_fetcher(fx.WB_ROWS[:9], page_size=3)  # 9 rows: three full pages, then an empty one
    responses = list(wb.fetch(fetcher, cursor=None))
    offsets = [r.url.rsplit("$offset=", 1)[1] for r in responses]
    assert offsets == ["0", "3", "6", "9"]
    assert all("$limit=3" in r.url and "$order=:id" in r.url for r in responses)
    # the first run asks for everything the supplier filter allows
    assert "contract_signing_date" not in responses[0].url
    assert "supplier_country%3D'China'" in responses[0].url and "%25HUAWEI%25" in responses[0].url
    batch = wb.parse([RawPayload(r.url, r.body) for r in responses])
    assert {r[1] for r in rows_of(batch, "core.deals")} == fx.WB_KEPT


def test_next_run_asks_from_the_cursor_minus_the_overlap(replay_fetcher):
    cursor = {"max_signing_date": "2021-03-28"}
    since = wb.query_start(cursor)
    assert since == date(2019, 3, 29)  # 730 days of overlap for contracts published late
    fetcher = replay_fetcher(fx.WB_ROWS[:1], since=since)
    (response,) = wb.fetch(fetcher, cursor)
    assert "contract_signing_date%3E'2019-03-29'+AND+(supplier_country" in response.url


def test_cursor_is_the_latest_signing_date_and_never_goes_back():
    batch = wb.parse(payloads(fx.WB_ROWS))
    assert batch.cursor == {"max_signing_date": "2021-03-28"}
    assert batch.complete is False and batch.deleted_keys == {}
    older = wb.parse(payloads(fx.WB_ROWS[1:3]), cursor={"max_signing_date": "2021-03-28"})
    assert older.cursor == {"max_signing_date": "2021-03-28"}
    empty = wb.parse(payloads([]), cursor={"max_signing_date": "2021-03-28"})
    assert empty.cursor == {"max_signing_date": "2021-03-28"} and empty.entities == 0


def test_replay_file_names_stay_within_the_file_system_limit():
    longest = wb.page_url(date(2099, 12, 31), 999_999_000)
    assert len(url_to_relative_path(longest).name.encode()) < 255


# -- filter and mapping ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch():
    return wb.parse(payloads(fx.WB_ROWS))


def test_keeps_prc_digital_contracts_only(batch):
    kept = {r[1] for r in rows_of(batch, "core.deals")}
    assert kept == fx.WB_KEPT
    assert "1 domestic (borrower China) dropped" in batch.warnings[0]
    assert "1700006" not in kept  # a Chinese road contractor: no digital component
    assert "1700007" not in kept  # WENZHOU HUAWEI IMPORT & EXPORT is not Huawei
    assert "1700010" not in kept  # ZTT (a registry cable maker) selling insulators


def test_deal_columns(batch):
    deals = {r[1]: dict(zip(wb.DEAL_TABLES[0].all_columns, r, strict=True)) for r in rows_of(batch, "core.deals")}
    ceiec = deals["1700001"]
    assert (ceiec["source"], ceiec["recipient"], ceiec["recipient_iso3"]) == ("worldbank_contracts", "Bangladesh", "BGD")
    assert (ceiec["signing_date"], ceiec["commitment_year"], ceiec["amount_usd"]) == (date(2021, 3, 28), 2021, 2659230.0)
    assert ceiec["amount_basis"] == "nominal USD" and ceiec["project_id"] == "P161000"
    assert ceiec["source_urls"] == ["https://projects.worldbank.org/en/projects-operations/project-detail/P161000"]
    assert ceiec["relevance"] == ["prc_vendor:ceiec", "component:command_centre"]
    assert "procurement: GOODS, Request for Bids" in ceiec["description"]
    assert deals["1700002"]["recipient_iso3"] is None  # "Eastern Africa" (code 3E) is regional
    assert deals["1700003"]["recipient_iso3"] == "KEN"  # from borrower_country_code


def test_parties(batch):
    parties = {(d, role, org) for _, d, role, org, _, _ in rows_of(batch, "core.deal_parties")}
    assert {("1700001", "vendor", "ceiec"), ("1700001", "financier", "world-bank"),
            ("1700001", "buyer", "government-of-bangladesh")} <= parties  # fmt: skip
    # a consortium: every member is a vendor of the one deal, the amount is the contract total
    assert {("1700005", "vendor", "huawei-technologies"), ("1700005", "vendor", "acme-rwanda")} <= parties
    # a regional borrower is not one government
    assert not [p for p in parties if p[0] == "1700002" and p[1] == "buyer"]


def test_components_and_government_hosting(batch):
    components = {(d, tag): words for _, d, tag, words, _ in rows_of(batch, "core.deal_components")}
    assert components[("1700001", "command_centre")] == ["command control room"]
    assert components[("1700002", "backbone")] == ["national backbone"]
    hosting = rows_of(batch, "core.government_hosting")
    assert [(h[0], h[1], h[2], h[3], h[4], h[5]) for h in hosting] == [
        ("worldbank_contracts", "deal", "worldbank_contracts:1700004", "Government of Kenya", "government", "KEN")]


def test_socrata_error_object_is_a_clear_error():
    body = json.dumps({"error": True, "message": "Invalid SoQL query"}).encode()
    with pytest.raises(SourceFormatError, match="Socrata returned an error object.*Invalid SoQL query"):
        wb.parse([RawPayload(wb.page_url(None, 0), body)])


def test_rows_without_a_contract_number_are_counted():
    row = dict(fx.WB_ROWS[0])
    del row["wb_contract_number"]
    batch = wb.parse(payloads([row]))
    assert batch.entities == 0 and "1 rows without wb_contract_number skipped" in batch.warnings


def test_source_contract():
    spec = wb.SOURCE
    assert spec.hosts == ("finances.worldbank.org",) and "CC BY" in spec.licence
    assert spec.tables[0].table == "core.deals" and spec.tables[0].scope_column == "source"


# -- record-level robustness ---------------------------------------------------------------------
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL0 = wb.page_url(None, 0)


def deal_rows(batch) -> dict[str, dict]:
    return {r[1]: dict(zip(wb.DEAL_TABLES[0].all_columns, r, strict=True)) for r in rows_of(batch, "core.deals")}


def with_row(number: str, **changes) -> list[dict]:
    return [{**row, **changes} if row["wb_contract_number"] == number else row for row in fx.WB_ROWS]


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "not valid JSON"), (b'[{"wb_contract_number": "17', "not valid JSON"),
     (b"<html><body>503 Service Unavailable</body></html>", "not valid JSON"),
     (b'{"rows": []}', "Socrata returned an error object"), (b'"rows"', "expected a JSON list of contract rows")],
)  # fmt: skip
def test_an_unreadable_page_fails_the_run_naming_its_url(body, message):
    with pytest.raises(SourceFormatError, match=message) as raised:
        wb.parse([RawPayload(URL0, body)])
    assert URL0 in str(raised.value)


@pytest.mark.parametrize("row", [["1700001", "2021-03-28"], "1700001", 17, None])
def test_a_row_that_is_not_an_object_is_set_aside_and_the_rest_loads(row):
    batch = wb.parse(payloads([fx.WB_ROWS[0], row, *fx.WB_ROWS[1:]]))
    (record,) = batch.set_aside
    assert (record.table, record.record_key, record.field, record.url) == ("core.deals", "row 1", None, URL0)
    assert record.reason == f"unreadable record: TypeError: expected an object per row, got {type(row).__name__}"
    assert set(deal_rows(batch)) == fx.WB_KEPT


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"supplier": {"name": "HUAWEI"}}, r"TypeError: supplier is \{'name': 'HUAWEI'\}, expected text"),
     ({"contract_description": ["DATA CENTER"]}, r"TypeError: contract_description is \['DATA CENTER'\], expected text"),
     ({"supplier_contract_amount_usd": "about 9 million"},
      r"ValueError: supplier_contract_amount_usd 'about 9 million' is not a number"),
     ({"contract_signing_date": "last spring"}, r"ValueError: contract_signing_date 'last spring' is not an ISO date"),
     ({"borrower_country": True}, r"TypeError: borrower_country is True, expected text"),
     ({"supplier": "HUAWEI\x00 INTERNATIONAL"}, r"ValueError: supplier 'HUAWEI\\x00 INTERNATIONAL' contains a NUL byte"),
     ({"supplier": "H" * 10_000}, r"ValueError: supplier is 10000 bytes long, at most 1000 allowed for a key")],
)  # fmt: skip
def test_a_contract_that_cannot_be_read_is_set_aside_with_the_reason(changes, reason):
    batch = wb.parse(payloads(with_row("1700004", **changes)))
    (record,) = batch.set_aside
    assert (record.record_key, record.entity_key, record.field) == ("worldbank_contracts|1700004",
                                                                    ("worldbank_contracts", "1700004"), None)  # fmt: skip
    assert re.fullmatch(r"unreadable record: " + reason, record.reason), record.reason
    assert set(deal_rows(batch)) == fx.WB_KEPT - {"1700004"}


def test_a_row_with_an_unreadable_contract_number_is_set_aside_under_its_position():
    batch = wb.parse(payloads(with_row("1700004", wb_contract_number=["1700004"])))
    (record,) = batch.set_aside
    assert record.record_key == "row 3" and "wb_contract_number is ['1700004'], expected text" in record.reason


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e999", "-500"])
def test_amounts_the_rules_reject_reach_validation_with_the_field(amount):
    batch = wb.parse(payloads(with_row("1700005", supplier_contract_amount_usd=amount)))
    value = deal_rows(batch)["1700005"]["amount_usd"]
    assert not math.isfinite(value) or value < 0  # not hidden behind the other member's amount
    assert batch.set_aside == []
    assert Range("amount_usd", 0, 10**12) in wb.SOURCE.tables[0].rules


def test_the_deal_table_declares_the_rules_this_source_relies_on():
    """The shared deal table declares them; this source relies on each."""
    rules = wb.SOURCE.tables[0].rules
    assert NotAfterFetch("signing_date") in rules  # keeps a contract "signed" 9999-12-31 out
    assert Range("amount_usd", 0, 10**12) in rules and Range("commitment_year", 1949, 2100) in rules


def test_one_supplier_listed_twice_with_different_values_is_set_aside():
    again = {**fx.WB_ROWS[0], "supplier_contract_amount_usd": "9999999"}
    batch = wb.parse(payloads([*fx.WB_ROWS, again]))
    (record,) = batch.set_aside
    assert (record.record_key, record.field, record.value) == ("worldbank_contracts|1700001", "supplier_contract_amount_usd",
                                                              "'2659230' / '9999999'")  # fmt: skip
    assert record.reason.startswith("the source lists this key twice with different values")
    assert record.entity_key == ("worldbank_contracts", "1700001") and "1700001" not in deal_rows(batch)
    # the very same row twice is one row; a consortium's members are not duplicates
    batch = wb.parse(payloads([*fx.WB_ROWS, fx.WB_ROWS[0]]))
    assert batch.set_aside == [] and set(deal_rows(batch)) == fx.WB_KEPT


# -- trusted cursors ------------------------------------------------------------------------------
def test_a_future_signing_date_never_moves_the_cursor():
    batch = wb.parse(payloads(with_row("1700004", contract_signing_date="9999-12-31T00:00:00.000")), now=NOW)
    assert batch.cursor == {"max_signing_date": "2021-03-28"}
    assert deal_rows(batch)["1700004"]["signing_date"] == date(9999, 12, 31)  # validation sets it aside
    assert any("1 rows signed after 2026-12-02 (in the future) left out of the cursor" in w for w in batch.warnings)
    # a contract set aside by the parser does not move it either
    newest = with_row("1700004", contract_signing_date="2026-11-29T00:00:00.000", supplier={"x": 1})
    assert wb.parse(payloads(newest), now=NOW).cursor == {"max_signing_date": "2021-03-28"}
    # within the margin it does
    soon = with_row("1700004", contract_signing_date="2026-12-01T00:00:00.000")
    assert wb.parse(payloads(soon), now=NOW).cursor == {"max_signing_date": "2026-12-01"}


def test_a_stored_cursor_ahead_of_now_is_dropped(caplog):
    batch = wb.parse(payloads(fx.WB_ROWS[1:3]), cursor={"max_signing_date": "9999-12-31"}, now=NOW)
    assert batch.cursor == {"max_signing_date": "2019-06-19"}
    assert "max_signing_date 9999-12-31 is ahead of today" in caplog.text


@pytest.mark.parametrize(
    ("cursor", "why"),
    [({"max_signing_date": "9999-12-31"}, r"max_signing_date 9999-12-31 is ahead of today, 2026-11-30, \+ 2 days"),
     ({"max_signing_date": "2026-12-03"}, r"max_signing_date 2026-12-03 is ahead of today"),
     ({"max_signing_date": "31/12/2021"}, r"max_signing_date '31/12/2021' is not a date"),
     ({"max_signing_date": 20211231}, r"max_signing_date 20211231 is not a date")],
)  # fmt: skip
def test_a_stored_cursor_that_looks_wrong_forces_a_full_read(cursor, why, caplog, replay_fetcher):
    caplog.set_level(logging.WARNING, logger="dsrwatch.sources.worldbank_contracts")
    assert wb.query_start(cursor, NOW) is None
    (warning,) = caplog.records
    assert re.search(r"worldbank_contracts: the stored cursor looks wrong \(" + why, warning.getMessage())
    assert warning.getMessage().endswith("reading everything again")
    (response,) = wb.fetch(replay_fetcher(fx.WB_ROWS[:1]), cursor, now=NOW)
    assert "contract_signing_date" not in response.url  # everything, not "after 9997-12-31"


def test_a_good_cursor_is_used_without_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    assert wb.query_start({"max_signing_date": "2026-12-02"}, NOW) == date(2024, 12, 2)
    assert caplog.records == []
