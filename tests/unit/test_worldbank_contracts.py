"""World Bank Major Contract Awards (Socrata kdui-wcs3): paging, the incremental cursor, and the
PRC-supplier / digital filter, on hand-made pages in the API's JSON shape."""

import json
from datetime import date

import pytest

from dsrwatch.fetching import Fetcher, url_to_relative_path
from dsrwatch.sources import worldbank_contracts as wb
from dsrwatch.sources.base import SourceFormatError
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
