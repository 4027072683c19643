"""The corrections layer: a reviewed closure (the real record: Alibaba Cloud closed its Sydney and
Mumbai regions in 2024, and the 2025 map still lists them) makes the entity count as gone, so its
flags resolve; a correction that matches nothing is reported."""

from __future__ import annotations

import pytest
import yaml

from dsrwatch.risk import engine
from dsrwatch.sources import reference_data

from helpers import cloud_fixtures as cf
from helpers import owid_fixtures as owid
from helpers import reference_seeds
from helpers.db import query
from helpers.runs import load_source

pytestmark = pytest.mark.integration

DUBAI = "Alibaba Cloud|me-east-1|Dubai"


def open_flags(url: str, entity: str) -> list[str]:
    return [p for (p,) in query(url, """SELECT pattern_id FROM risk.flags
                                        WHERE entity_id = %s AND resolved_at IS NULL ORDER BY 1""", (entity,))]


def test_a_closure_resolves_the_flags_and_a_stale_correction_is_reported(warehouse, tmp_path, monkeypatch):
    root = tmp_path / "replay"
    reference_seeds.write_seeds(root)
    cf.write_replay_dir(root)
    owid.write_replay_dir(root)
    monkeypatch.setenv("DSR_REPLAY_DIR", str(root))
    monkeypatch.setattr(reference_data, "fetch", reference_seeds.fetch_from_replay)
    for source in ("reference_data", "political_regimes", "cloud_regions"):
        load_source(source)
    engine.evaluate()
    assert "PRC_OWNER" in open_flags(warehouse, DUBAI)

    corrections = root / reference_seeds.SEEDS[reference_data.CORRECTIONS_URL]
    entries = yaml.safe_load(corrections.read_text())
    entries += [
        {"id": "dubai-closed", "entity_kind": "cloud_region", "entity_id": DUBAI, "correction": "closed",
         "effective": "2024-09-30", "source_url": "https://example.org/closure", "note": "closed in 2024"},
        {"id": "typo", "entity_kind": "cloud_region", "entity_id": "Alibaba Cloud|nowhere-1|Atlantis",
         "correction": "closed", "effective": "2024-01-01", "source_url": "https://example.org/x", "note": None},
    ]  # fmt: skip
    corrections.write_text(yaml.safe_dump(entries).replace("'2024-09-30'", "2024-09-30").replace("'2024-01-01'", "2024-01-01"))
    load_source("reference_data")
    summary = engine.evaluate()
    assert open_flags(warehouse, DUBAI) == [] and summary.resolved >= 1 and summary.opened == 0
    rows = dict(query(warehouse, "SELECT entity_source_id, matches_an_entity FROM analyst.corrections"))
    assert rows[DUBAI] is True and rows["Alibaba Cloud|nowhere-1|Atlantis"] is False
    assert rows["Alibaba Cloud|ap-southeast-2|Sydney"] is False  # the real Sydney region is not in the fixture
