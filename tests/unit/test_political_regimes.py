"""The OWID political-regime parser on small hand-made CSVs in the grapher's exact shape."""

import re
from datetime import UTC, datetime

import pytest

from dsrwatch.normalise.countries import to_iso3
from dsrwatch.sources import political_regimes as pr
from dsrwatch.sources.base import SourceFormatError
from dsrwatch.warehouse.raw import RawPayload

from helpers import owid_fixtures as owid

URL = pr.POLITICAL_REGIME_URL


def parse(body: bytes):
    return pr.parse([RawPayload(URL, body)])


def loaded(body: bytes | None = None) -> dict[tuple[str, int], tuple]:
    batch = parse(owid.regime_csv() if body is None else body)
    return {(r[0], r[1]): r for r in batch.rows["core.country_regimes"]}


def test_countries_are_loaded_with_typed_values():
    rows = loaded()
    assert rows[("CHN", 2024)] == ("CHN", 2024, 0, "China")
    assert rows[("KEN", 2021)] == ("KEN", 2021, 1, "Kenya")
    assert rows[("FRA", 2024)] == ("FRA", 2024, 3, "France")
    assert rows[("PNG", 2024)] == ("PNG", 2024, 1, "Papua New Guinea")
    assert len(rows) == owid.LOADED_ROWS


def test_rows_come_in_key_order_matching_the_table_spec():
    batch = parse(owid.regime_csv())
    rows = batch.rows["core.country_regimes"]
    assert rows == sorted(rows)
    assert pr.COUNTRY_REGIMES.all_columns == ("iso3", "year", "regime", "entity_name")
    assert batch.entities == len(rows) and batch.complete


def test_kosovo_is_loaded_as_xkx_like_every_other_source():
    rows = loaded()
    assert [k for k in rows if k[0] == "XKX"] == [("XKX", 2022), ("XKX", 2023), ("XKX", 2024)]
    assert rows[("XKX", 2024)][3] == "Kosovo"
    assert pr.OWID_CODE_TO_ISO3["OWID_KOS"] == to_iso3("Kosovo")
    assert not [k for k in rows if k[0].startswith("OWID")]


def test_historical_entities_and_empty_codes_are_skipped_and_counted():
    batch = parse(owid.regime_csv())
    assert {r[0] for r in batch.rows["core.country_regimes"]} == {
        "CHN", "ECU", "FRA", "KEN", "PAK", "PNG", "SRB", "VAT", "XKX"}  # fmt: skip
    assert len(batch.warnings) == 1
    warning = batch.warnings[0]
    assert f"skipped {owid.SKIPPED_ROWS} rows of 3 entities" in warning
    for entity in ("East Germany (OWID_GDR)", "Hamburg", "Palestine/Gaza"):
        assert entity in warning


def test_no_warning_when_nothing_is_skipped():
    body = owid.regime_csv([("China", "CHN", "2024", "0")])
    assert parse(body).warnings == []


def test_a_bom_crlf_and_a_trailing_newline_are_tolerated():
    body = b"\xef\xbb\xbf" + owid.regime_csv().replace(b"\n", b"\r\n") + b"\r\n"
    assert loaded(body) == loaded()


def test_the_short_name_header_of_older_downloads_is_accepted():
    body = owid.regime_csv(header=("Entity", "Code", "Year", "regime_row_owid"))
    assert loaded(body) == loaded()


@pytest.mark.parametrize("header", [
    ("Entity", "Code", "Year", "Regime"),  # value column renamed
    ("Entity", "Code", "Day", "Political regime"),  # daily data
    ("Country", "Code", "Year", "Political regime"),
    ("Entity", "Code", "Year", "Political regime", "Political regime (lower bound)"),
])  # fmt: skip
def test_a_changed_header_names_the_url_and_the_columns_found(header):
    with pytest.raises(SourceFormatError, match="unexpected CSV header") as err:
        parse(owid.regime_csv(header=header))
    assert URL in str(err.value)
    assert all(column in str(err.value) for column in header)


def test_an_empty_body_is_a_format_error():
    with pytest.raises(SourceFormatError, match=r"political-regime\.csv: empty file"):
        parse(b"")


def rule_problems(row: tuple) -> list[str]:
    """What the table's declared ranges (checked by validation before the load) say of a row."""
    fetched = datetime(2026, 3, 1, tzinfo=UTC)
    columns = pr.COUNTRY_REGIMES.all_columns
    return [p for rule in pr.COUNTRY_REGIMES.rules
            if (p := rule.problem(row[columns.index(rule.column)], fetched))]  # fmt: skip


@pytest.mark.parametrize(("value", "message"), [
    ("4", r"outside 0\.\.3"),
    ("-1", r"outside 0\.\.3"),
])  # fmt: skip
def test_a_regime_outside_0_to_3_is_loaded_by_the_parser_and_refused_by_the_declared_range(value, message):
    rows = [("China", "CHN", "2022", "0"), ("China", "CHN", "2023", value), ("China", "CHN", "2024", "0")]
    batch = parse(owid.regime_csv(rows))
    assert batch.set_aside == []
    bad = next(r for r in batch.rows["core.country_regimes"] if r[1] == 2023)
    assert [p for p in rule_problems(bad) if re.search(message, p)]
    assert all(rule_problems(r) == [] for r in batch.rows["core.country_regimes"] if r is not bad)


def test_years_outside_the_v_dem_span_are_refused_by_the_declared_range():
    assert rule_problems(("CHN", 1788, 0, "China")) == ["outside 1789..2100"]
    assert rule_problems(("CHN", 2101, 0, "China")) == ["outside 1789..2100"]
    assert rule_problems(("CHN", 1789, 3, "China")) == []


@pytest.mark.parametrize(("value", "message"), [
    ("2.5", r"line 3: regime '2.5' is not an integer"),
    ("", r"line 3: regime '' is not an integer"),
    ("democracy", r"line 3: regime 'democracy' is not an integer"),
])  # fmt: skip
def test_a_regime_that_is_not_an_integer_is_set_aside_naming_its_line(value, message):
    rows = [("China", "CHN", "2022", "0"), ("China", "CHN", "2023", value), ("China", "CHN", "2024", "0")]
    batch = parse(owid.regime_csv(rows))
    (record,) = batch.set_aside
    assert (record.record_key, record.entity_key, record.field, record.url) == ("CHN|2023", ("CHN", 2023), "regime", URL)
    assert re.search(message, record.reason)
    assert [r[:2] for r in batch.rows["core.country_regimes"]] == [("CHN", 2022), ("CHN", 2024)]
    assert batch.complete  # the country-year is known: it keeps its previous version, the rest is complete


def test_a_bad_regime_of_a_skipped_entity_does_not_matter():
    rows = [("China", "CHN", "2024", "0"), ("Hamburg", "", "1866", "n/a"), ("Baden", "OWID_BAD", "1850", "9")]
    assert list(loaded(owid.regime_csv(rows))) == [("CHN", 2024)]
    assert parse(owid.regime_csv(rows)).set_aside == []


def test_a_bad_year_is_set_aside_naming_its_line_and_holds_back_removals():
    rows = [("China", "CHN", "2024", "0"), ("France", "FRA", "2024-01-01", "3")]
    batch = parse(owid.regime_csv(rows))
    (record,) = batch.set_aside
    assert record.record_key == "FRA|2024-01-01" and record.entity_key is None
    assert re.search(r"line 3: year '2024-01-01' is not an integer", record.reason)
    assert list(loaded(owid.regime_csv(rows))) == [("CHN", 2024)]
    assert batch.complete is False  # which French year it was is unknown: nothing is marked removed


def test_a_malformed_code_or_row_is_set_aside():
    good = [("China", "CHN", "2024", "0")]
    batch = parse(owid.regime_csv([*good, ("France", "FR", "2024", "3")]))
    (record,) = batch.set_aside
    assert re.search(r"line 3: code 'FR' of 'France' is neither ISO3 nor OWID_\*", record.reason)
    assert (record.entity_key, batch.complete) == (None, False)
    batch = parse(owid.regime_csv([*good, ("France", "FRA", "2024")]))
    (record,) = batch.set_aside
    assert re.search(r"line 3: expected 4 fields, got 3", record.reason)
    assert (record.record_key, record.entity_key, batch.complete) == ("FRA|2024", ("FRA", 2024), True)
    body = owid.regime_csv(good) + b"\nKorea, South,KOR,2024,3"  # an unquoted comma: the fields shift
    (record,) = parse(body).set_aside
    assert re.search(r"expected 4 fields, got 5", record.reason) and record.record_key == "line 3"
    # only bad rows: nothing to load, the file is not what the source publishes
    with pytest.raises(SourceFormatError, match=r"line 2: code 'FR' of 'France' is neither ISO3 nor OWID_\*"):
        parse(owid.regime_csv([("France", "FR", "2024", "3")]))
    with pytest.raises(SourceFormatError, match=r"line 2: expected 4 fields, got 3"):
        parse(owid.regime_csv([("France", "FRA", "2024")]))


def test_duplicate_country_years_are_warned_and_left_to_validation():
    rows = [("Kosovo", "OWID_KOS", "2024", "2"), ("Kosovo", "XKX", "2024", "2"), ("Serbia", "SRB", "2024", "1")]
    batch = parse(owid.regime_csv(rows))
    assert any(re.search(r"XKX 2024 appears twice \('Kosovo' and 'Kosovo', lines 2 and 3\)", w) for w in batch.warnings)
    # both rows go on: validation keeps one of two equal rows and sets aside two that differ
    assert batch.rows["core.country_regimes"] == [("SRB", 2024, 1, "Serbia"), ("XKX", 2024, 2, "Kosovo"),
                                                  ("XKX", 2024, 2, "Kosovo")]  # fmt: skip
    assert batch.entities == 2 and batch.set_aside == []


def test_a_file_that_is_not_utf8_names_the_line():
    body = owid.regime_csv() + "\nC\xf4te d'Ivoire,CIV,2024,1".encode("latin-1")
    with pytest.raises(SourceFormatError, match=r"political-regime\.csv: not UTF-8 text \(line \d+: "):
        parse(body)


def test_a_file_without_countries_is_an_error():
    with pytest.raises(SourceFormatError, match="no country rows"):
        parse(owid.regime_csv([("Hamburg", "", "1866", "1")]))


def test_the_run_must_contain_the_csv():
    with pytest.raises(SourceFormatError, match=r"run has no https://ourworldindata\.org/grapher/political-regime\.csv"):
        pr.parse([RawPayload("https://ourworldindata.org/other.csv", owid.regime_csv())])


def test_fetch_is_one_get_of_the_csv(tmp_path):
    from dsrwatch.fetching import Fetcher

    fetcher = Fetcher(replay_dirs=[owid.write_replay_dir(tmp_path)], record_dir=None)
    responses = list(pr.fetch(fetcher))
    assert [r.url for r in responses] == [URL]
    assert responses[0].body == owid.regime_csv()
    assert fetcher.requests_made == 1


def test_source_declares_its_contract():
    spec = pr.SOURCE
    assert (spec.name, spec.category, spec.hosts, spec.licence) == (
        "political_regimes", "reference", ("ourworldindata.org",), "CC BY 4.0")  # fmt: skip
    assert spec.attribution == "V-Dem – processed by Our World in Data"
    assert spec.tables == (pr.COUNTRY_REGIMES,) and spec.tables[0].key == ("iso3", "year")
    assert spec.views == ("analyst.country_regimes", "analyst.latest_country_regimes")
    assert spec.stage == "reference"  # runs before the sources judged by it
