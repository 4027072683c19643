"""Worlds shared by several test files: the reference seeds, V-Dem regimes and hand-made cables
loaded into the test's warehouse.

* :func:`regimes_world` - reference_data, political_regimes (:data:`REGIMES`, replayed from
  ``tmp_path/owid``) and cables v1 loaded; returns ``load_cables(cables=None, name="v1")``, which
  loads another cable version (replayed from ``tmp_path/<name>``) next to the regimes.
* ``cables_world`` (fixture) - that world (test_risk_engine's ``world``).
* ``digest_world`` (fixture) - that world evaluated once (the baseline), then
  :func:`digest_cables_v2` loaded and evaluated again; returns ``(interval_start, interval_end)``
  around the second evaluation (the ``world`` of test_weekly_alert, test_alert_reliability and
  test_locks).

A test file uses a fixture under its own name: ``world = worlds.cables_world``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

import pytest

from dsrwatch import pipeline
from dsrwatch.risk import engine

from helpers import owid_fixtures as owid
from helpers import telegeography as tg
from helpers.db import scalar
from helpers.runs import load_source

YEARS = range(2016, 2025)
# V-Dem regimes for the cable fixture's landing countries (real 2022 values).
REGIMES = [
    ("Brazil", "BRA", 2), ("Cameroon", "CMR", 1), ("China", "CHN", 0), ("France", "FRA", 3),
    ("Japan", "JPN", 3), ("Kenya", "KEN", 2), ("Namibia", "NAM", 2), ("Nigeria", "NGA", 1),
    ("Pakistan", "PAK", 1), ("Portugal", "PRT", 3), ("United States", "USA", 3),
]  # fmt: skip
XSS_NAME = "<script>alert(1)</script>"


def regimes_world(tmp_path, monkeypatch) -> Callable[..., pipeline.RunSummary]:
    """Reference seeds, regimes and cables v1 loaded; returns a function to load another cable version."""
    owid.write_replay_dir(
        tmp_path / "owid",
        owid.regime_csv(owid.rows_of([(n, c, dict.fromkeys(YEARS, r)) for n, c, r in REGIMES])),
    )

    def load_cables(cables: dict[str, dict] | None = None, name: str = "v1") -> pipeline.RunSummary:
        tg.write_replay_dir(tmp_path / name, cables)
        monkeypatch.setenv("DSR_REPLAY_DIR", f"{tmp_path / name}:{tmp_path / 'owid'}")
        return load_source("submarine_cables")

    monkeypatch.setenv("DSR_REPLAY_DIR", str(tmp_path / "owid"))
    for source in ("reference_data", "political_regimes"):
        load_source(source)
    load_cables()
    return load_cables


@pytest.fixture
def cables_world(warehouse, tmp_path, monkeypatch):
    """Reference seeds, regimes and cables v1 loaded; returns a function to load another cable version."""
    return regimes_world(tmp_path, monkeypatch)


def digest_cables_v2() -> dict[str, dict]:
    """v1 plus two PRC-linked cables (one named like an XSS probe), PEACE state-owned (its PRC_OWNER
    rises from low to high) and China Unicom gone from SAIL (its PRC_OWNER resolves)."""
    cables = copy.deepcopy(tg.CABLES_V1)
    cables["script-cable"] = {
        "id": "script-cable", "name": XSS_NAME, "length": "7,000 km",
        "landing_points": [tg._lp("lagos-nigeria", "Lagos, Nigeria", "Nigeria"),
                           tg._lp("lisbon-portugal", "Lisbon, Portugal", "Portugal")],
        "owners": "China Telecom", "suppliers": "HMN Tech",
        "rfs": "2024", "rfs_year": 2024, "is_planned": True, "url": "javascript:alert(2)", "notes": None,
    }  # fmt: skip
    cables["meridian-express"] = {
        "id": "meridian-express", "name": "Meridian Express", "length": "6,100 km",
        "landing_points": [tg._lp("mombasa-kenya", "Mombasa, Kenya", "Kenya"),
                           tg._lp("gwadar-pakistan", "Gwadar, Pakistan", "Pakistan")],
        "owners": "China Mobile", "suppliers": "HMN Tech",
        "rfs": "2024", "rfs_year": 2024, "is_planned": True, "url": None, "notes": None,
    }  # fmt: skip
    cables["peace-cable"]["owners"] = "Peace Cable International Network Co. Ltd., China Telecom"
    cables["south-atlantic-inter-link-sail"]["owners"] = "Camtel"
    return cables


def db_now(url: str) -> datetime:
    return scalar(url, "SELECT clock_timestamp()")


@pytest.fixture
def digest_world(warehouse, tmp_path, monkeypatch):
    """Baseline, then v2 evaluated; returns (interval_start, interval_end) around the second run."""
    load_cables = regimes_world(tmp_path, monkeypatch)
    engine.evaluate()
    start = db_now(warehouse)
    load_cables(digest_cables_v2(), "v2")
    engine.evaluate()
    end = db_now(warehouse)
    return start, end
