"""The contract every source keeps, one parametrised test per clause over each source's fixtures:

(a) a rerun of the same payloads writes nothing: no change history, every core table as it was
    (and, when the payloads are byte for byte v1's, no new body in raw);
(b) v1 -> v2 records exactly the documented additions, modifications and removals, in the run's
    summary and in core.entity_changes, and a removed entity is kept, marked removed;
(c) the analyst role reads the source's analyst views (``SOURCE.views``), all their rows, and
    nothing behind them: the source's core tables, its ledger in ops, its payloads in raw.

Each source is one :class:`SourceFixture`: writers of its replay directories (tests/helpers) and
what v1 -> v2 changes. What only one source does (keys, columns, cursors, parts) stays in its
own test_*_load.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import psycopg.errors
import pytest
import yaml

from dsrwatch.sources import gdelt_leads, get_source, peeringdb, reference_data, worldbank_contracts

from helpers import cloud_fixtures as cf
from helpers import deals_fixtures as fx
from helpers import owid_fixtures as owid
from helpers import peeringdb_fixtures as pf
from helpers import reference_seeds
from helpers import telegeography as tg
from helpers.db import query, scalar, table_fingerprint
from helpers.runs import load_source

pytestmark = pytest.mark.integration

Writer = Callable[[Path], object]


@dataclass(frozen=True)
class SourceFixture:
    """One source's fixtures for the contract. A writer fills a replay directory with what the
    source answers for one run; ``expected`` is what v1 -> v2 changes in the source's main table."""

    name: str
    write_v1: Writer
    write_v2: Writer
    expected: tuple[int, int, int]  # (added, modified, removed)
    # What the source answers on the run after v1 when nothing changed, when that is not v1's
    # payloads again (an incremental source asks from its cursor).
    write_rerun: Writer | None = None
    # Set up before the first run (small pages, a clock, where the seeds are read from).
    prepare: Callable[[pytest.MonkeyPatch], None] | None = None

    def __str__(self) -> str:
        return self.name


# -- peeringdb: a complete read, then since= reads from the cursor ---------------------------------
PDB_LIMIT = 3
PDB_SINCE_V1 = {endpoint: pf.updated_at({"updated": stamp}) - peeringdb.SINCE_OVERLAP_SECONDS
                for endpoint, stamp in pf.V1_NEWEST.items()}  # fmt: skip


def _pdb_prepare(monkeypatch) -> None:
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", PDB_LIMIT)
    # The fixture's dates are fixed and the clock is not: no periodic complete read here.
    monkeypatch.setattr(peeringdb, "FULL_REFRESH_DAYS", 100_000)


def _pdb_since(root: Path, facilities: list[dict], organisations: list[dict]) -> Path:
    """What PeeringDB answers to since= reads from v1's cursor: everything updated at or after it."""
    return pf.write_replay_dir(root, pf.changed_since(facilities, PDB_SINCE_V1["fac"]),
                               pf.changed_since(organisations, PDB_SINCE_V1["org"]), PDB_LIMIT, PDB_SINCE_V1)  # fmt: skip


def _pdb_v2(root: Path) -> Path:
    facilities, organisations = pf.changes_v2()
    return _pdb_since(root, pf.apply_changes(pf.FACILITIES_V1, facilities),
                      pf.apply_changes(pf.ORGANISATIONS_V1, organisations))  # fmt: skip


# -- worldbank_contracts: contracts signed since the cursor minus the overlap ------------------------
WB_SINCE_V1 = worldbank_contracts.query_start(fx.WB_CURSOR)
WB_ROWS_SINCE_V1 = [r for r in fx.WB_ROWS if r["contract_signing_date"][:10] > WB_SINCE_V1.isoformat()]

# -- gdelt_leads: weekly windows up to "today"; each writer sets the day its run happens -------------
GDELT_NOW = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
GDELT_NEXT_WEEK = GDELT_NOW + timedelta(days=7)
GDELT_CURSOR_V1 = {"window_end": gdelt_leads.windows(None, GDELT_NOW)[-1][1].strftime(gdelt_leads.TIME_FORMAT)}
GDELT_ANSWERS = {"safe_city": [fx.LEAD_NAIROBI, fx.LEAD_UNRELATED], "surveillance": [fx.LEAD_ISLAMABAD_PUBLISHER]}
GDELT_NEW_LEAD = fx.article("https://news.example.rs/belgrade-cameras", "Belgrade adds Huawei cameras to its safe city",
                            "20260114T100000Z", "news.example.rs", "Serbia")  # fmt: skip


class _GdeltClock:
    now = GDELT_NOW


def _gdelt_prepare(monkeypatch) -> None:
    _GdeltClock.now = GDELT_NOW
    monkeypatch.setattr(gdelt_leads, "utc_now", lambda: _GdeltClock.now)


def _gdelt_week(now: datetime, cursor: dict | None, answers: dict[str, list[dict]]) -> Writer:
    def write(root: Path) -> Path:
        _GdeltClock.now = now
        return fx.write_gdelt_replay(root, answers, gdelt_leads.windows(cursor, now))

    return write


# -- reference_data: the seed files, read from the replay directory instead of the checkout ----------
NEW_ORGANISATION = {"id": "example-test-telecom", "name": "Example Test Telecom Co., Ltd.", "jurisdiction": "PRC",
                    "ownership": "state", "parent": None, "sectors": ["telecom"]}  # fmt: skip


def _ref_prepare(monkeypatch) -> None:
    monkeypatch.setattr(reference_data, "fetch", reference_seeds.fetch_from_replay)


def _ref_v1(root: Path) -> Path:
    return reference_seeds.write_seeds(root)


def _ref_v2(root: Path) -> Path:
    """v1 with one organisation added, one modified (its roles note) and one removed (a leaf)."""
    _ref_v1(root)
    registry = root / reference_seeds.SEEDS[reference_data.REGISTRY_URL]
    entries = yaml.safe_load(registry.read_text())
    parents = {e.get("parent") for e in entries}
    leaf = next(e for e in reversed(entries) if e["id"] not in parents)
    entries = [e for e in entries if e is not leaf]
    next(e for e in entries if e["id"] == "huawei-cloud")["roles_note"] = "Huawei's public cloud (edited)."
    entries.append(NEW_ORGANISATION)
    registry.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False))
    return root


SOURCES = [
    SourceFixture("submarine_cables", tg.write_replay_dir, lambda root: tg.write_replay_dir(root, tg.cables_v2()),
                  (1, 1, 1)),
    SourceFixture("cloud_regions", cf.write_replay_dir, lambda root: cf.write_replay_dir(root, cf.metros_v2()),
                  (1, 1, 1)),
    SourceFixture("peeringdb",
                  lambda root: pf.write_replay_dir(root, pf.FACILITIES_V1, pf.ORGANISATIONS_V1, PDB_LIMIT),
                  _pdb_v2, (1, 1, 1),
                  write_rerun=lambda root: _pdb_since(root, pf.FACILITIES_V1, pf.ORGANISATIONS_V1),
                  prepare=_pdb_prepare),
    SourceFixture("political_regimes", owid.write_replay_dir,
                  lambda root: owid.write_replay_dir(root, owid.regime_csv(owid.rows_of(owid.entities_v2()))),
                  (0, 1, 0)),
    # a new release adds two records and relabels every other one
    SourceFixture("aiddata", lambda root: fx.write_aiddata_replay(root, fx.RELEASE_V1),
                  lambda root: fx.write_aiddata_replay(root, fx.RELEASE_V2, "3.1"),
                  (len(fx.ADDED_V2), len(fx.KEPT_V1), 0)),
    # incremental: a contract signed since the cursor is added; nothing is removed
    SourceFixture("worldbank_contracts", lambda root: fx.write_worldbank_replay(root, fx.WB_ROWS),
                  lambda root: fx.write_worldbank_replay(root, [*WB_ROWS_SINCE_V1, fx.WB_NEWER], since=WB_SINCE_V1),
                  (1, 0, 0),
                  write_rerun=lambda root: fx.write_worldbank_replay(root, WB_ROWS_SINCE_V1, since=WB_SINCE_V1)),
    # leads accumulate: next week's answers repeat last week's articles and bring one new
    SourceFixture("gdelt_leads", _gdelt_week(GDELT_NOW, None, GDELT_ANSWERS),
                  _gdelt_week(GDELT_NEXT_WEEK, GDELT_CURSOR_V1,
                              {**GDELT_ANSWERS, "government_data": [GDELT_NEW_LEAD]}),
                  (1, 0, 0),
                  write_rerun=_gdelt_week(GDELT_NEXT_WEEK, GDELT_CURSOR_V1, GDELT_ANSWERS),
                  prepare=_gdelt_prepare),
    SourceFixture("reference_data", _ref_v1, _ref_v2, (1, 1, 1), prepare=_ref_prepare),
]  # fmt: skip


def _run(source: SourceFixture, replay_into, name: str, write: Writer):
    replay_into(f"{source.name}-{name}", write)
    summary = load_source(source.name)
    assert summary.status == "succeeded", (source.name, name, summary.error)
    return summary


def _load_v1(source: SourceFixture, replay_into, monkeypatch, warehouse: str):
    if source.prepare:
        source.prepare(monkeypatch)
    first = _run(source, replay_into, "v1", source.write_v1)
    assert first.is_baseline and first.entities > 0
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0  # the baseline writes no history
    return first


def _changes(warehouse: str, run_id: int, table: str) -> dict[str, int]:
    rows = query(warehouse, """SELECT CASE change WHEN 'restored' THEN 'added' ELSE change END, count(*)
                                 FROM core.entity_changes WHERE run_id = %s AND entity_table = %s GROUP BY 1""",
                 (run_id, table))  # fmt: skip
    return dict(rows)


# -- (a) -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_a_rerun_of_the_same_payloads_writes_nothing(source, warehouse, replay_into, monkeypatch):
    _load_v1(source, replay_into, monkeypatch, warehouse)
    before = table_fingerprint(warehouse)
    bodies = scalar(warehouse, "SELECT count(*) FROM raw.bodies")
    again = _run(source, replay_into, "rerun", source.write_rerun or source.write_v1)
    assert (again.added, again.modified, again.removed, again.is_baseline) == (0, 0, 0, False)
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0
    assert table_fingerprint(warehouse) == before
    if source.write_rerun is None:  # the same bodies again: each is stored once
        assert scalar(warehouse, "SELECT count(*) FROM raw.bodies") == bodies


# -- (b) -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_v1_to_v2_records_exactly_the_documented_changes(source, warehouse, replay_into, monkeypatch):
    table = get_source(source.name).SOURCE.tables[0].table
    _load_v1(source, replay_into, monkeypatch, warehouse)
    rows_v1 = scalar(warehouse, f"SELECT count(*) FROM {table}")
    second = _run(source, replay_into, "v2", source.write_v2)
    added, modified, removed = source.expected
    assert (second.added, second.modified, second.removed, second.is_baseline) == (added, modified, removed, False)
    # the change history says the same, entity by entity
    assert _changes(warehouse, second.run_id, table) == {
        change: count for change, count in (("added", added), ("modified", modified), ("removed", removed)) if count}
    # removed rows are kept, marked removed; nothing is deleted
    assert scalar(warehouse, f"SELECT count(*) FROM {table}") == rows_v1 + added
    assert scalar(warehouse, f"SELECT count(*) FROM {table} WHERE removed_at IS NOT NULL") == removed


# -- (c) -----------------------------------------------------------------------------------------------
LEDGER_TABLES = ("ops.source_runs", "ops.source_cursors", "raw.http_responses", "raw.bodies")


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_the_analyst_role_reads_the_views_and_nothing_behind_them(source, warehouse, replay_into, monkeypatch):
    spec = get_source(source.name).SOURCE
    first = _load_v1(source, replay_into, monkeypatch, warehouse)
    assert spec.views
    rows = {view: scalar(warehouse, f"SELECT count(*) FROM {view}") for view in spec.views}
    assert all(rows.values()), rows  # v1 shows in every view
    assert rows[spec.views[0]] == first.entities  # the main view: one row per entity
    closed = [t.table for t in spec.tables] + list(LEDGER_TABLES)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("SET ROLE dsr_analyst")
        # every row, as the pipeline's role sees it
        assert {view: conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0] for view in spec.views} == rows
        for table in closed:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
                pytest.fail(f"an analyst could read {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {spec.tables[0].table}")
    assert scalar(warehouse, f"SELECT count(*) FROM {spec.tables[0].table}") > 0
