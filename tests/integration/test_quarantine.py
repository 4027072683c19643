"""Expectations and change guards gate the commit: a source that shrinks or breaks is quarantined
(rolled back, payloads kept, risk engine untouched), and an operator can accept a real change.

The world: reference seeds, V-Dem regimes (loaded with enforcement off: fixture-sized) and a fleet
of 60 cables modelled on the TeleGeography fixtures, with fixture-sized row bounds so the change
guard is what is tested.
"""

from __future__ import annotations

import copy
import dataclasses

import psycopg
import pytest

from dsrwatch import pipeline
from dsrwatch.expectations import ChangeGuard, RowCountBounds
from dsrwatch.risk import engine
from dsrwatch.sources import cloud_regions, political_regimes, submarine_cables

from helpers import cloud_fixtures as cf
from helpers import owid_fixtures as owid
from helpers import telegeography as tg
from helpers.db import query, scalar, table_fingerprint
from helpers.runs import load_source

pytestmark = pytest.mark.integration

FLEET_SIZE = 60


def fleet(size: int = FLEET_SIZE) -> dict[str, dict]:
    """``size`` cables, copies of the five fixture cables under numbered ids (PRC-linked ones included)."""
    cables = {}
    templates = list(tg.CABLES_V1.values())
    for n in range(size):
        cable = copy.deepcopy(templates[n % len(templates)])
        cable["id"] = f"{cable['id']}-{n:03d}"
        cable["name"] = f"{cable['name']} {n}"
        cables[cable["id"]] = cable
    return cables


def open_flags(url: str) -> list[tuple]:
    return query(url, """SELECT pattern_id, entity_id, severity FROM risk.flags WHERE resolved_at IS NULL
                          ORDER BY 1, 2""")  # fmt: skip


@pytest.fixture
def cables_world(warehouse, tmp_path, monkeypatch, enforced):
    """Seeds and regimes loaded, then the 60-cable baseline evaluated; returns ``load(cables, name)``."""
    monkeypatch.setattr(submarine_cables, "SOURCE", dataclasses.replace(submarine_cables.SOURCE, expectations=(
        RowCountBounds("core.submarine_cables", 30, 2_000), RowCountBounds("core.landing_points", 5, 500))))  # fmt: skip
    owid.write_replay_dir(tmp_path / "owid")
    monkeypatch.setenv("DSR_REPLAY_DIR", str(tmp_path / "owid"))
    monkeypatch.setenv("DSR_EXPECTATIONS", "warn")  # the regimes fixture is far below the real bounds
    for source in ("reference_data", "political_regimes"):
        load_source(source)
    monkeypatch.setenv("DSR_EXPECTATIONS", "enforce")

    def load(cables: dict[str, dict], name: str) -> pipeline.RunSummary:
        tg.write_replay_dir(tmp_path / name, cables)
        monkeypatch.setenv("DSR_REPLAY_DIR", f"{tmp_path / name}:{tmp_path / 'owid'}")
        return load_source("submarine_cables")

    assert load(fleet(), "full").status == "succeeded"
    engine.evaluate()
    return load


def test_an_index_cut_to_a_tenth_is_quarantined_and_changes_nothing(warehouse, cables_world):
    before, flags_before = table_fingerprint(warehouse), open_flags(warehouse)
    assert len(flags_before) > 20  # PRC-linked cables of the fleet are flagged
    with pytest.raises(pipeline.RunQuarantined, match=r"would remove 54 of 60 present entities, at most 10% \(6\)") as err:
        cables_world(dict(list(fleet().items())[:6]), "tenth")
    assert "python -m dsrwatch accept" in str(err.value)
    run_id = scalar(warehouse, "SELECT max(run_id) FROM ops.source_runs WHERE source = 'submarine_cables'")
    assert table_fingerprint(warehouse) == before  # every entity still present, nothing recorded as changed
    assert scalar(warehouse, "SELECT count(*) FROM raw.http_responses WHERE run_id = %s", (run_id,)) == 8  # kept
    status, error = query(warehouse, "SELECT status, error FROM analyst.source_runs WHERE run_id = %s", (run_id,))[0]
    assert status == "quarantined" and "would remove 54 of 60" in error  # analysts see it and why
    engine.evaluate()  # even if the engine runs, nothing it reads has changed
    assert open_flags(warehouse) == flags_before
    assert scalar(warehouse, "SELECT count(*) FROM risk.flags WHERE resolved_at IS NOT NULL") == 0
    again = cables_world(fleet(), "full-again")  # the source recovers: a normal run writes no change
    assert (again.status, again.added, again.modified, again.removed) == ("succeeded", 0, 0, 0)
    with pytest.raises(ValueError, match="older than its successful run"):  # accepting it now would roll back
        pipeline.load_from_raw(run_id, accept=True)


def test_an_empty_index_is_quarantined(warehouse, cables_world):
    before = table_fingerprint(warehouse)
    with pytest.raises(pipeline.RunQuarantined, match=r"would remove 60 of 60"):
        cables_world({}, "empty")
    assert table_fingerprint(warehouse) == before


def test_mass_modification_is_quarantined(warehouse, cables_world):
    changed = fleet()
    for cable in list(changed.values())[:40]:
        cable["length"] = "1 km"
    with pytest.raises(pipeline.RunQuarantined, match=r"would modify 40 of 60 present entities, at most 50% \(30\)"):
        cables_world(changed, "garbled")


def test_a_cable_listing_ten_thousand_landing_points_is_quarantined(warehouse, cables_world, monkeypatch):
    before = table_fingerprint(warehouse)
    cables = fleet()
    bloated = next(iter(cables.values()))
    for n in range(10_000):
        monkeypatch.setitem(tg.COORDINATES, f"bogus-{n}", (0.0, 0.0))
        bloated["landing_points"].append(tg._lp(f"bogus-{n}", f"Bogus {n}, Kenya", "Kenya"))
    with pytest.raises(pipeline.RunQuarantined, match=r"core.landing_points: 100\d\d present rows, expected 5\.\.500"):
        cables_world(cables, "bloated")
    assert table_fingerprint(warehouse) == before


def test_an_operator_accepts_a_real_shrink(warehouse, cables_world):
    with pytest.raises(pipeline.RunQuarantined):
        cables_world(dict(list(fleet().items())[:6]), "tenth")
    run_id = scalar(warehouse, "SELECT max(run_id) FROM ops.source_runs WHERE source = 'submarine_cables'")
    summary = pipeline.load_from_raw(run_id, accept=True)
    assert (summary.status, summary.removed) == ("succeeded", 54)
    details = scalar(warehouse, "SELECT details FROM ops.source_runs WHERE run_id = %s", (run_id,))
    assert details["expectations"]["accepted_by_operator"] is True
    assert "would remove 54 of 60" in details["accepted_quarantine"]
    assert scalar(warehouse, "SELECT count(*) FROM core.submarine_cables WHERE removed_at IS NULL") == 6
    with pytest.raises(ValueError, match="is succeeded, not quarantined"):
        pipeline.load_from_raw(run_id, accept=True)


def test_warn_mode_loads_and_records_that_it_was_not_enforced(warehouse, cables_world, monkeypatch):
    monkeypatch.setenv("DSR_EXPECTATIONS", "warn")
    summary = cables_world(dict(list(fleet().items())[:6]), "tenth")
    assert (summary.status, summary.removed) == ("succeeded", 54)
    verdict = scalar(warehouse, "SELECT details -> 'expectations' FROM ops.source_runs WHERE run_id = %s",
                     (summary.run_id,))  # fmt: skip
    assert verdict["enforced"] is False and any("would remove 54 of 60" in f for f in verdict["failed"])


def test_a_bad_setting_is_a_clear_error(warehouse, monkeypatch):
    monkeypatch.setenv("DSR_EXPECTATIONS", "sometimes")
    with pytest.raises(ValueError, match="DSR_EXPECTATIONS must be 'enforce' or 'warn'"):
        pipeline.load_from_raw(1)


# --- other sources: the guard is declared once and applies to each -------------------------------
def regimes_cut_a_third_of_the_way(root):
    body = owid.regime_csv()
    owid.write_replay_dir(root, body[: body.rfind(b"\n", 0, len(body) // 3) + 1])  # a download that stopped


SHRINKS = {
    "cloud regions cut to two metros": (cloud_regions, cf.write_replay_dir,
                                        lambda root: cf.write_replay_dir(root, cf.document()["cloud_regions"][:2]),
                                        "core.cloud_regions"),
    "regimes truncated mid-file": (political_regimes, owid.write_replay_dir, regimes_cut_a_third_of_the_way,
                                   "core.country_regimes"),
}  # fmt: skip


@pytest.mark.parametrize("case", SHRINKS, ids=list(SHRINKS))
def test_a_shrunken_source_is_quarantined(case, warehouse, replay_into, monkeypatch, enforced):
    module, write_good, write_shrunk, table = SHRINKS[case]
    monkeypatch.setattr(module, "SOURCE", dataclasses.replace(
        module.SOURCE, expectations=(), change_guard=ChangeGuard(always_allowed=0)))  # fmt: skip
    replay_into("v1", write_good)
    load_source(module.SOURCE.name)
    before = table_fingerprint(warehouse)
    replay_into("shrunk", write_shrunk)
    with pytest.raises(pipeline.RunQuarantined, match=rf"{table}: would remove \d+ of \d+"):
        load_source(module.SOURCE.name)
    assert table_fingerprint(warehouse) == before


def test_the_analyst_role_sees_quarantined_runs(warehouse, cables_world):
    with pytest.raises(pipeline.RunQuarantined):
        cables_world({}, "empty")
    with psycopg.connect(warehouse) as conn:
        conn.execute("SET ROLE dsr_analyst")
        rows = conn.execute("SELECT status, error FROM analyst.source_runs WHERE status = 'quarantined'").fetchall()
    assert len(rows) == 1 and rows[0][1].startswith("quarantined: ") and "would remove 60 of 60" in rows[0][1]
