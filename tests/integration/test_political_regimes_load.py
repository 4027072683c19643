"""Replay hand-made OWID political-regime CSVs into a real PostgreSQL warehouse."""

import dataclasses
import re

import pytest

from dsrwatch import pipeline
from dsrwatch.sources import political_regimes
from dsrwatch.sources.base import MaxNullFraction, RowCountBounds

from helpers import owid_fixtures as owid
from helpers.db import query, scalar, table_fingerprint
from helpers.runs import load_source

pytestmark = pytest.mark.integration


@pytest.fixture
def replay(replay_into):
    """Write a replay dir holding the given CSV body and point DSR_REPLAY_DIR at it."""
    return lambda body=None, name="v1": replay_into(name, lambda root: owid.write_replay_dir(root, body))


@pytest.fixture
def fixture_sized_expectations(monkeypatch):
    """The real bounds (25,000+ country-years) scaled down to the fixture's few rows."""
    spec = dataclasses.replace(political_regimes.SOURCE, expectations=(
        RowCountBounds("core.country_regimes", 20, 100),
        MaxNullFraction("core.country_regimes", "entity_name", 0.0),
    ))  # fmt: skip
    monkeypatch.setattr(political_regimes, "SOURCE", spec)


def load():
    return load_source("political_regimes")


def test_replay_fills_the_analyst_views(warehouse, replay):
    replay()
    summary = load()
    assert (summary.status, summary.entities, summary.added, summary.is_baseline) == (
        "succeeded", owid.LOADED_ROWS, owid.LOADED_ROWS, True)  # fmt: skip
    assert summary.requests == 1
    assert "analyst.country_regimes" in summary.line()
    rows = query(warehouse, """SELECT iso3, country_name, year, regime, regime_label, is_democracy, removed_at
                                 FROM analyst.country_regimes WHERE year = 2024 ORDER BY iso3""")
    assert rows == [
        ("CHN", "China", 2024, 0, "closed autocracy", False, None),
        ("ECU", "Ecuador", 2024, 2, "electoral democracy", True, None),
        ("FRA", "France", 2024, 3, "liberal democracy", True, None),
        ("KEN", "Kenya", 2024, 2, "electoral democracy", True, None),
        ("PAK", "Pakistan", 2024, 1, "electoral autocracy", False, None),
        ("PNG", "Papua New Guinea", 2024, 1, "electoral autocracy", False, None),
        ("SRB", "Serbia", 2024, 1, "electoral autocracy", False, None),
        ("XKX", "Kosovo", 2024, 2, "electoral democracy", True, None),
    ]
    # historical entities and rows without a code never reach the warehouse
    assert scalar(warehouse, "SELECT count(*) FROM core.country_regimes") == owid.LOADED_ROWS
    warnings = scalar(warehouse, "SELECT details -> 'warnings' FROM ops.source_runs WHERE run_id = %s",
                      (summary.run_id,))  # fmt: skip
    assert len(warnings) == 1 and "East Germany (OWID_GDR)" in warnings[0]
    # the baseline writes no per-entity history
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0
    assert scalar(warehouse, "SELECT count(DISTINCT first_seen_at) FROM analyst.country_regimes") == 1


def test_latest_view_has_one_row_per_country_and_says_what_is_carried_forward(warehouse, replay):
    replay()
    load()
    latest = query(warehouse, """SELECT iso3, year, regime_label, is_current, years_carried_forward
                                   FROM analyst.latest_country_regimes ORDER BY iso3""")
    this_year = scalar(warehouse, "SELECT extract(year FROM current_date)::integer")
    assert [r[0] for r in latest] == ["CHN", "ECU", "FRA", "KEN", "PAK", "PNG", "SRB", "VAT", "XKX"]
    by_iso3 = {r[0]: r[1:] for r in latest}
    assert by_iso3["KEN"] == (2024, "electoral democracy", True, this_year - 2024)
    # a series that stopped long before the dataset's end is not current
    assert by_iso3["VAT"] == (1861, "closed autocracy", False, this_year - 1861)


def test_one_changed_regime_records_exactly_one_modification(warehouse, replay):
    replay()
    load()
    replay(owid.regime_csv(owid.rows_of(owid.entities_v2())), name="v2")
    summary = load()
    assert (summary.added, summary.modified, summary.removed) == (0, 1, 0)
    changes = query(warehouse, "SELECT run_id, source, entity_table, entity_key, change, changed_columns "
                               "FROM core.entity_changes")  # fmt: skip
    assert changes == [(summary.run_id, "political_regimes", "core.country_regimes", "SRB|2024", "modified",
                        {"regime": [1, 2]})]  # fmt: skip
    serbia = query(warehouse, """SELECT regime_label, is_democracy FROM analyst.latest_country_regimes
                                  WHERE iso3 = 'SRB'""")  # fmt: skip
    assert serbia == [("electoral democracy", True)]


def test_a_country_year_that_leaves_the_source_is_marked_removed(warehouse, replay):
    replay()
    load()
    rows = [r for r in owid.rows_of() if not (r[0] == "Kosovo" and r[2] == "2024")]
    replay(owid.regime_csv(rows), name="v2")
    summary = load()
    assert (summary.added, summary.modified, summary.removed) == (0, 0, 1)
    assert query(warehouse, "SELECT removed_at IS NOT NULL FROM analyst.country_regimes "
                            "WHERE iso3 = 'XKX' AND year = 2024") == [(True,)]  # fmt: skip
    # the latest view falls back to the latest year still present
    assert scalar(warehouse, "SELECT year FROM analyst.latest_country_regimes WHERE iso3 = 'XKX'") == 2023


def test_a_bad_regime_is_set_aside_and_the_rest_loads(warehouse, replay):
    replay()
    load()
    before = table_fingerprint(warehouse)
    rows = [(e, c, y, "7" if (c, y) == ("KEN", "2023") else v) for e, c, y, v in owid.rows_of()]
    rows = [(e, c, y, "2" if (c, y) == ("SRB", "2024") else v) for e, c, y, v in rows]  # one real change
    replay(owid.regime_csv(rows), name="bad")
    summary = load()
    assert (summary.status, summary.added, summary.modified, summary.removed) == ("succeeded", 0, 1, 0)
    records = query(warehouse, "SELECT run_id, record_key, field, value_excerpt, reason, url FROM analyst.quarantined_records")
    assert records == [(summary.run_id, "KEN|2023", "regime", "7", "core.country_regimes: outside 0..3", None)]
    # Kenya 2023 keeps its previous regime (neither updated nor removed); Serbia's change loads
    assert query(warehouse, "SELECT regime, removed_at FROM core.country_regimes WHERE iso3 = 'KEN' AND year = 2023") == [
        (2, None)]
    assert scalar(warehouse, "SELECT regime FROM core.country_regimes WHERE iso3 = 'SRB' AND year = 2024") == 2
    after = table_fingerprint(warehouse)
    assert {t: after[t] for t in after if t not in ("country_regimes", "entity_changes")} == {
        t: before[t] for t in before if t not in ("country_regimes", "entity_changes")}


def test_an_unreadable_regime_is_set_aside_naming_its_line(warehouse, replay):
    replay()
    load()
    before = table_fingerprint(warehouse)
    rows = [(e, c, y, "n/a" if (c, y) == ("KEN", "2023") else v) for e, c, y, v in owid.rows_of()]
    replay(owid.regime_csv(rows), name="bad")
    summary = load()
    assert (summary.status, summary.added, summary.modified, summary.removed) == ("succeeded", 0, 0, 0)
    (record,) = query(warehouse, "SELECT record_key, field, reason, url FROM analyst.quarantined_records")
    assert record[:2] == ("KEN|2023", "regime") and record[3] == political_regimes.POLITICAL_REGIME_URL
    assert re.search(r"line \d+: regime 'n/a' is not an integer", record[2])
    assert table_fingerprint(warehouse) == before


def test_a_changed_header_fails_with_the_columns_found(warehouse, replay):
    replay(owid.regime_csv(header=("Entity", "Code", "Year", "Regime")))
    with pytest.raises(pipeline.LoadFailed, match=r"unexpected CSV header \['Entity', 'Code', 'Year', 'Regime'\]"):
        load()
    assert scalar(warehouse, "SELECT count(*) FROM core.country_regimes") == 0


def test_real_expectations_fail_on_the_small_fixture(warehouse, replay, enforced):
    replay()
    run_id = pipeline.fetch_to_raw("political_regimes")
    with pytest.raises(pipeline.RunQuarantined):
        pipeline.load_from_raw(run_id)
    with pytest.raises(pipeline.ExpectationFailed,
                       match=rf"core.country_regimes: {owid.LOADED_ROWS} present rows, expected 25000\.\.45000"):
        pipeline.check_expectations(run_id)


def test_fixture_sized_expectations_hold(warehouse, replay, fixture_sized_expectations, enforced):
    replay()
    run_id = pipeline.fetch_to_raw("political_regimes")
    pipeline.load_from_raw(run_id)
    passed = pipeline.check_expectations(run_id)
    assert passed == [f"core.country_regimes: {owid.LOADED_ROWS} present rows, expected 20..100",
                      f"core.country_regimes.entity_name: 0/{owid.LOADED_ROWS} NULL, at most 0% allowed",
                      f"0 of {owid.LOADED_ROWS} records set aside as invalid, at most 1% (5) allowed"]  # fmt: skip


def test_regime_views_and_columns_are_documented(warehouse):
    undocumented = query(warehouse, """
        SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c
          JOIN pg_class t ON t.relname = c.table_name
          JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema
         WHERE c.table_schema = 'analyst' AND c.table_name IN ('country_regimes', 'latest_country_regimes')
           AND col_description(t.oid, c.ordinal_position) IS NULL""")
    assert undocumented == []
    documented = query(warehouse, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'analyst' AND c.relname LIKE '%%country_regimes' AND obj_description(c.oid) IS NOT NULL
         ORDER BY 1""")
    assert documented == [("country_regimes",), ("latest_country_regimes",)]
