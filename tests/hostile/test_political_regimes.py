"""Hostile OWID political-regime CSVs: each case damages the twelve-entity fixture one way."""

from __future__ import annotations

import pytest

from helpers import owid_fixtures as owid
from helpers.db import query, scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

GOOD = owid.regime_csv()
KENYA_2023 = "KEN|2023"
HOSTILE_NAME = "<script>alert(1)</script>'; DROP TABLE core.country_regimes; -- {{ 7*7 }}"


def write_body(body: bytes) -> callable:
    return lambda root: owid.write_replay_dir(root, body)


def kenya_2023(*fields: str) -> callable:
    """The CSV with Kenya's 2023 row replaced by ``fields`` (any number of them)."""
    rows = [fields if (code, year) == ("KEN", "2023") else (e, code, year, v) for e, code, year, v in owid.rows_of()]
    return write_body(owid.regime_csv(rows))


def with_row(*fields: str) -> callable:
    return write_body(owid.regime_csv([*owid.rows_of(), fields]))


CASES = [
    # not this CSV at all: the run fails, naming the URL and what was expected
    Case("HTML error page", write_body(b"<html><body>502 Bad Gateway</body></html>"), FAILED,
         r"political-regime\.csv: unexpected CSV header \['<html><body>502 Bad Gateway</body></html>'\]"),
    Case("empty body", write_body(b""), FAILED, r"political-regime\.csv: empty file, expected a CSV with header"),
    Case("not UTF-8", write_body(GOOD.replace(b"Ecuador", "\xc9quateur".encode("latin-1"))), FAILED,
         r"political-regime\.csv: not UTF-8 text \(line \d+: 'utf-8' codec can't decode byte 0xc9"),
    Case("header renamed", write_body(owid.regime_csv(header=("Entity", "Code", "Year", "Regime"))), FAILED,
         r"unexpected CSV header \['Entity', 'Code', 'Year', 'Regime'\]"),
    Case("header only", write_body(owid.regime_csv([])), FAILED, r"political-regime\.csv: no country rows"),
    Case("a field over the CSV reader's limit", kenya_2023("K" * 200_000, "KEN", "2023", "2"), FAILED,
         r"political-regime\.csv line \d+: not readable as CSV \(field larger than field limit"),
    Case("every regime unreadable", write_body(owid.regime_csv([(e, c, y, "n/a") for e, c, y, _ in owid.rows_of()])),
         FAILED, r"no country rows .*every row unreadable: 33 set aside; e\.g\. unreadable record: line 2: regime 'n/a'"),
    # a truncated file names no country-year it lost: the change guard stops the removals
    Case("truncated mid-row", write_body(GOOD[: len(GOOD) // 2]), QUARANTINED,
         r"core\.country_regimes: would remove \d+ of 33 present entities"),
    # one bad row: set aside, its country-year keeps its previous version, the rest loads
    Case("regime 7", kenya_2023("Kenya", "KEN", "2023", "7"), SET_ASIDE, r"outside 0\.\.3", record_key=KENYA_2023,
         field="regime"),
    Case("regime 'democracy'", kenya_2023("Kenya", "KEN", "2023", "democracy"), SET_ASIDE,
         r"line 21: regime 'democracy' is not an integer", record_key=KENYA_2023, field="regime"),
    Case("regime 2.5", kenya_2023("Kenya", "KEN", "2023", "2.5"), SET_ASIDE, r"regime '2\.5' is not an integer",
         record_key=KENYA_2023),
    Case("regime 99999", kenya_2023("Kenya", "KEN", "2023", "99999"), SET_ASIDE, r"out of the smallint range",
         record_key=KENYA_2023, field="regime"),
    Case("year 3021", with_row("Kenya", "KEN", "3021", "2"), SET_ASIDE, r"outside 1789\.\.2100",
         record_key="KEN|3021", field="year"),
    Case("year 'MMXXIII'", kenya_2023("Kenya", "KEN", "MMXXIII", "2"), SET_ASIDE,
         r"line 21: year 'MMXXIII' is not an integer", record_key="KEN|MMXXIII"),
    Case("row with 3 fields", kenya_2023("Kenya", "KEN", "2023"), SET_ASIDE, r"line 21: expected 4 fields, got 3",
         record_key=KENYA_2023),
    Case("row with 5 fields", kenya_2023("Kenya", "KEN", "2023", "2", "extra"), SET_ASIDE,
         r"line 21: expected 4 fields, got 5", record_key=KENYA_2023),
    Case("unbalanced quote swallows the rest", kenya_2023('"Kenya', "KEN", "2023", "2"), SET_ASIDE,
         r"line \d+: expected 4 fields, got 1: \[.Kenya,KEN,2023,2\\nKenya,KEN,2024", record_key="line 41"),
    Case("code 'KE'", kenya_2023("Kenya", "KE", "2023", "2"), SET_ASIDE,
         r"line 21: code 'KE' of 'Kenya' is neither ISO3 nor OWID_\*", record_key="KE|2023"),
    Case("country-year listed twice with different values", with_row("Kenya", "KEN", "2023", "0"), SET_ASIDE,
         r"the source lists this key twice with different values", record_key=KENYA_2023),
    Case("NUL byte in an entity name", kenya_2023("Ken\x00ya", "KEN", "2023", "2"), SET_ASIDE,
         r"contains a NUL byte", record_key=KENYA_2023, field="entity_name"),
    Case("NUL byte in a code", kenya_2023("Kenya", "K\x00N", "2023", "2"), SET_ASIDE,
         r"code 'K\\x00N' of 'Kenya' is neither ISO3", record_key="K\\x00N|2023"),
    Case("10 kB entity name", kenya_2023("K" * 10_000, "KEN", "2023", "2"), SET_ASIDE,
         r"10000 bytes long, at most 2000 allowed", record_key=KENYA_2023, field="entity_name"),
    # listed twice with the same values: one row, a warning, nothing changes
    Case("country-year listed twice identically", with_row("Kenya", "KEN", "2023", "2"), LOADED, ""),
    Case("names carrying HTML, SQL and Jinja", kenya_2023(HOSTILE_NAME, "KEN", "2023", "2"), LOADED, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_political_regime_csv(case, hostile, warehouse):
    changed = ("country_regimes", "entity_changes") if case.id.startswith("names carrying") else ()
    hostile("political_regimes", lambda root: owid.write_replay_dir(root), case, changed_tables=changed)
    if case.id.startswith("names carrying"):
        assert scalar(warehouse, "SELECT entity_name FROM core.country_regimes WHERE iso3 = 'KEN' AND year = 2023") == (
            HOSTILE_NAME)  # stored as the data it is
    if case.outcome == SET_ASIDE:
        # Kenya 2023 kept its previous version whatever happened to its row: not updated, not removed
        assert query(warehouse, """SELECT regime, entity_name, removed_at FROM core.country_regimes
                                    WHERE iso3 = 'KEN' AND year = 2023""") == [(2, "Kenya", None)]  # fmt: skip
    if case.id == "country-year listed twice identically":
        warnings = scalar(warehouse, """SELECT details -> 'warnings' FROM ops.source_runs
                                         WHERE source = 'political_regimes' ORDER BY run_id DESC LIMIT 1""")  # fmt: skip
        assert any("KEN 2023 appears twice ('Kenya' and 'Kenya'" in w for w in warnings), warnings
