"""The gold-set evaluation (make evaluate) on the fixture cables: counts, misses, false flags,
entities not loaded, thresholds and the exit code; and the real gold file is well-formed."""

from __future__ import annotations

import pytest

from dsrwatch import cli, evaluation
from dsrwatch.risk import engine
from dsrwatch.warehouse import connect

from helpers import worlds

pytestmark = pytest.mark.integration

world = worlds.cables_world

GOLD = """
thresholds:
  cables: {precision: 0.98, recall: 0.95}
cases:
  - {kind: submarine_cable, entity_id: peace-cable, must: [PRC_SUPPLIER, PRC_OWNER], must_not: [],
     source: "https://www.submarinecablemap.com/submarine-cable/peace-cable", reasoning: "HMN Tech; PEACE CIN"}
  - {kind: submarine_cable, entity_id: dunant, must: [PRC_SUPPLIER], must_not: [PRC_OWNER],
     source: "https://example.org/wrong-on-purpose", reasoning: "a deliberately wrong label: a miss"}
  - {kind: submarine_cable, entity_id: south-atlantic-inter-link-sail, must: [], must_not: [PRC_OWNER],
     source: "https://example.org/wrong-on-purpose", reasoning: "a deliberately wrong label: a false flag"}
  - {kind: submarine_cable, entity_id: no-such-cable, must: [PRC_OWNER], must_not: [],
     source: "https://example.org/none", reasoning: "not in the warehouse"}
"""


def test_counts_misses_false_flags_and_thresholds(world, warehouse, tmp_path, capsys):
    engine.evaluate()
    gold = tmp_path / "gold.yaml"
    gold.write_text(GOLD)
    cases, thresholds = evaluation.load_gold(gold)
    with connect(warehouse) as conn:
        report = evaluation.evaluate(conn, cases, thresholds)
    cables = report.by_category["cables"]
    assert (cables.true_positives, cables.false_negatives, cables.false_positives) == (2, 1, 1)
    assert (cables.precision, cables.recall) == (2 / 3, 2 / 3)
    assert [m.split(" - ")[0] for m in report.misses] == ["submarine_cable dunant: PRC_SUPPLIER"]
    assert [f.split(" - ")[0] for f in report.false_flags] == ["submarine_cable south-atlantic-inter-link-sail: PRC_OWNER"]
    assert report.not_loaded == ["submarine_cable no-such-cable"]
    assert report.failures == ["cables precision 66.7% < 98%", "cables recall 66.7% < 95%"]
    assert cli.main(["evaluate", "--gold", str(gold)]) == 1
    out = capsys.readouterr().out
    assert "Misses (a pattern the case must have is not flagged): 1" in out and "Below threshold: 2" in out


def test_the_project_gold_file_is_well_formed():
    cases, thresholds = evaluation.load_gold()
    assert len(cases) >= 20 and {"cables", "cloud"} <= set(thresholds)
    assert len({(c.kind, c.entity_id) for c in cases}) == len(cases)  # one case per entity
    assert all(c.reasoning and c.source.startswith("https://") for c in cases)
