"""The risk engine on hand-made cables modelled on real cases, against a real PostgreSQL."""

import pytest

from dsrwatch.risk import engine
from dsrwatch.sources import reference_data

from helpers import telegeography as tg
from helpers import worlds
from helpers.db import query, scalar

pytestmark = pytest.mark.integration

world = worlds.cables_world  # reference seeds, regimes and cables v1 loaded (tests/helpers/worlds.py)


def flags(url, entity=None, open_only=True):
    sql = "SELECT entity_source_id, pattern_id, severity, is_new FROM analyst.risk_flags WHERE true"
    if open_only:
        sql += " AND resolved_at IS NULL"
    if entity:
        sql += " AND entity_source_id = %(entity)s"
    return {(e, p): (s, n) for e, p, s, n in query(url, sql + " ORDER BY 1, 2", {"entity": entity})}


def test_real_cases_match_the_right_patterns(world, warehouse):
    summary = engine.evaluate()
    assert summary.opened == summary.opened_baseline > 0
    got = flags(warehouse)
    # PEACE: HMN Tech supplies, PEACE Cable International (Hengtong, Hong Kong) owns
    assert got[("peace-cable", "PRC_SUPPLIER")][0] == "high"
    assert got[("peace-cable", "PRC_OWNER")][0] == "low"  # Hong Kong-registered private owner
    assert ("peace-cable", "VERTICAL_STACK") in got  # Hengtong owns and supplies
    assert ("peace-cable", "AUTHORITARIAN_HOST") in got  # Pakistan, electoral autocracy
    assert got[("peace-cable", "DEMOCRACY_EXPOSURE")][0] == "high"  # France: EU, NATO
    # SAIL: HMN Tech supplies; China Unicom (state) co-owns; Cameroon and Brazil have no other cable here
    sail = "south-atlantic-inter-link-sail"
    assert got[(sail, "PRC_SUPPLIER")][0] == "high"
    assert ("peace-cable", "CHOKEPOINT") in got  # Kenya: PEACE is its only cable in the fixture
    assert got[(sail, "PRC_OWNER")][0] == "high"
    assert (sail, "CHOKEPOINT") in got
    assert (sail, "VERTICAL_STACK") not in got  # state operator and a private supplier: two stacks
    # Dunant (Google; SubCom), Equiano (Google; ASN), Seren Juno (no PRC party): nothing at all
    flagged = {entity for entity, _ in flags(warehouse, open_only=False)}
    assert flagged == {"peace-cable", sail}


def test_evidence_explains_each_flag(world, warehouse):
    engine.evaluate()
    explanation, evidence = query(
        warehouse,
        """SELECT explanation, evidence FROM analyst.risk_flags
            WHERE entity_source_id = 'south-atlantic-inter-link-sail' AND pattern_id = 'PRC_OWNER'""",
    )[0]
    assert "China United Network Communications Group" in explanation and "state" in explanation
    assert evidence["owners"][0]["as_written"] == "China Unicom"
    host = scalar(warehouse, """SELECT evidence FROM analyst.risk_flags
                                 WHERE entity_source_id = 'peace-cable' AND pattern_id = 'AUTHORITARIAN_HOST'""")
    assert host["countries"] == [{"iso3": "PAK", "regime": 1, "label": "electoral autocracy", "regime_year": 2022,
                                  "evaluation_year": 2022, "carried_forward": False}]


def test_baseline_then_new_then_rerun_opens_nothing(world, warehouse):
    first = engine.evaluate()
    assert first.opened_baseline == first.opened
    assert scalar(warehouse, "SELECT count(*) FROM analyst.risk_flags WHERE is_new") == 0
    again = engine.evaluate()
    assert (again.opened, again.reopened, again.resolved) == (0, 0, 0)
    world(tg.cables_v2(), name="v2")  # adds 2Africa, co-owned by China Mobile; removes Dunant
    after = engine.evaluate()
    new = {k for k, (_, is_new) in flags(warehouse).items() if is_new}
    assert new == {("2africa", "PRC_OWNER"), ("2africa", "DEMOCRACY_EXPOSURE")}
    assert after.opened == 2 and after.opened_baseline == 0
    runs = query(warehouse, """SELECT opened, opened_baseline, resolved FROM analyst.risk_evaluations
                                ORDER BY run_id""")
    assert runs[-1] == (2, 0, 0)
    assert query(warehouse, "SELECT count(*) FROM ops.source_runs WHERE fetch_mode = 'engine'") == [(0,)]


def test_flag_lifecycle_open_confirm_resolve_reopen(world, warehouse):
    engine.evaluate()
    sail = "south-atlantic-inter-link-sail"
    without_unicom = {k: dict(v) for k, v in tg.CABLES_V1.items()}
    without_unicom[sail]["owners"] = "Camtel"
    world(without_unicom, name="no-unicom")
    resolved = engine.evaluate()
    assert resolved.resolved >= 1
    assert (sail, "PRC_OWNER") not in flags(warehouse)
    world(tg.CABLES_V1, name="back")
    reopened = engine.evaluate()
    assert reopened.reopened >= 1
    row = query(warehouse, """SELECT resolved_at, times_reopened, is_new FROM analyst.risk_flags
                               WHERE entity_source_id = %s AND pattern_id = 'PRC_OWNER'""", (sail,))
    assert row == [(None, 1, False)]  # back open, history kept, still the baseline flag
    events = query(warehouse, """SELECT e.event FROM risk.flag_events e JOIN risk.flags f USING (flag_id)
                                  WHERE f.entity_id = %s AND f.pattern_id = 'PRC_OWNER' ORDER BY e.event_id""",
                   (sail,))
    assert [e for (e,) in events] == ["opened", "resolved", "reopened"]


def test_severity_rise_is_recorded(world, warehouse):
    engine.evaluate()
    peace_state_owned = {k: dict(v) for k, v in tg.CABLES_V1.items()}
    peace_state_owned["peace-cable"]["owners"] = "Peace Cable International Network Co. Ltd., China Telecom"
    world(peace_state_owned, name="state")
    summary = engine.evaluate()
    assert summary.severity_changed == 1
    event = query(warehouse, """SELECT e.event, e.previous_severity, e.severity FROM risk.flag_events e
                                 JOIN risk.flags f USING (flag_id)
                                 WHERE f.entity_id = 'peace-cable' AND f.pattern_id = 'PRC_OWNER'
                                 ORDER BY e.event_id DESC LIMIT 1""")
    assert event == [("severity_raised", "low", "high")]


def test_entity_score_combines_open_flags(world, warehouse):
    engine.evaluate()
    score, explanation = query(warehouse, """SELECT score, explanation FROM analyst.entity_risk
                                              WHERE entity_source_id = 'peace-cable'""")[0]
    # CHOKEPOINT (Kenya has no other cable in the fixture) 4 + DEMOCRACY_EXPOSURE high 4 + PRC_SUPPLIER
    # high 4 + VERTICAL_STACK high 4 + PRC_OWNER low 1 = 17, x1.5 with Pakistan as host
    assert float(score) == 25.5
    assert explanation == ("score 25.5 = CHOKEPOINT high (4) + DEMOCRACY_EXPOSURE high (4) + PRC_SUPPLIER high (4)"
                           " + VERTICAL_STACK high (4) + PRC_OWNER low (1), x1.5 for an authoritarian host")


def test_new_pattern_file_needs_no_code_change(world, warehouse, tmp_path):
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "LONG_CABLE.sql").write_text(
        "-- id: LONG_CABLE\n-- title: Long cable\n-- severity: low\n-- applies_to: submarine_cable\n"
        "-- basis: R1\n-- reasoning: Test pattern.\n"
        "SELECT entity_kind, entity_id, NULL AS severity, jsonb_build_object('reason', 'long') AS evidence\n"
        "  FROM risk.entities e JOIN core.submarine_cables c ON c.source_id = e.entity_id\n"
        " WHERE e.entity_kind = 'submarine_cable' AND c.length_km > 20000\n"
    )
    summary = engine.evaluate(pattern_dir=patterns)
    assert summary.patterns == 1 and summary.matches == 1
    assert flags(warehouse) == {("peace-cable", "LONG_CABLE"): ("low", False)}


def test_broken_pattern_fails_cleanly_and_keeps_the_flags(world, warehouse, tmp_path):
    engine.evaluate()
    before = query(warehouse, "SELECT flag_id, resolved_at FROM risk.flags ORDER BY 1")
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "BROKEN.sql").write_text(
        "-- id: BROKEN\n-- title: t\n-- severity: low\n-- applies_to: x\n-- basis: R1\n-- reasoning: r\n"
        "SELECT entity_kind FROM no_such_table"
    )
    with pytest.raises(engine.PatternError, match=r"BROKEN\.sql: query failed.*no_such_table"):
        engine.evaluate(pattern_dir=patterns)
    assert query(warehouse, "SELECT flag_id, resolved_at FROM risk.flags ORDER BY 1") == before
    assert scalar(warehouse, "SELECT status FROM ops.risk_evaluations ORDER BY run_id DESC LIMIT 1") == "failed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- id: X\nSELECT 1", "header lacks"),
        ("-- id: OTHER\n-- title: t\n-- severity: low\n-- applies_to: a\n-- basis: R1\n-- reasoning: r\nSELECT 1",
         "differs from the file name"),
        ("-- id: X\n-- title: t\n-- severity: urgent\n-- applies_to: a\n-- basis: R1\n-- reasoning: r\nSELECT 1",
         "severity 'urgent'"),
    ],
)
def test_malformed_pattern_headers(tmp_path, text, message):
    path = tmp_path / "X.sql"
    path.write_text(text)
    with pytest.raises(engine.PatternError, match=message):
        engine.parse_pattern(path)


def test_every_shipped_pattern_has_a_complete_header():
    patterns = engine.load_patterns()
    assert {"PRC_SUPPLIER", "PRC_OWNER", "VERTICAL_STACK", "CHOKEPOINT", "AUTHORITARIAN_HOST",
            "DEMOCRACY_EXPOSURE"} <= {p.pattern_id for p in patterns}  # fmt: skip
    assert all(p.reasoning and p.basis.startswith("R") for p in patterns)


def test_registry_aliases_are_unique_and_parents_exist():
    from dsrwatch.reference.registry import load_registry

    entries = reference_data.validate_registry(list(load_registry()))
    groups = reference_data.group_of(entries)
    assert groups["hmn-technologies"] == "hengtong-group"  # HMN -> Hengtong Optic-Electric -> Hengtong Group
    duplicate = [*entries, {"id": "impostor", "name": "Impostor", "aliases": ["HMN Tech"],
                            "jurisdiction": "PRC", "ownership": "private"}]  # fmt: skip
    with pytest.raises(reference_data.SourceFormatError, match="alias 'HMN Tech' of impostor also names hmn-technologies"):
        reference_data.validate_registry(duplicate)
    looped = [{"id": "a", "name": "A", "parent": "b", "jurisdiction": "PRC", "ownership": "state"},
              {"id": "b", "name": "B", "parent": "a", "jurisdiction": "PRC", "ownership": "state"}]  # fmt: skip
    with pytest.raises(reference_data.SourceFormatError, match="loops"):
        reference_data.group_of(looped)


def test_pattern_sql_may_use_like_percent(world, warehouse, tmp_path):
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "PEACE_NAMED.sql").write_text(
        "-- id: PEACE_NAMED\n-- title: t\n-- severity: low\n-- applies_to: submarine_cable\n-- basis: R1\n"
        "-- reasoning: r\nSELECT entity_kind, entity_id, NULL AS severity, jsonb_build_object('reason', '100%') AS evidence\n"
        "  FROM risk.entities WHERE entity_name LIKE 'PEACE%'\n"
    )
    assert engine.evaluate(pattern_dir=patterns).matches == 1


def test_a_new_pattern_file_opens_baseline_flags(world, warehouse, tmp_path):
    import shutil

    engine.evaluate()
    patterns = tmp_path / "patterns"
    shutil.copytree(engine.PATTERN_DIR, patterns, ignore=shutil.ignore_patterns("*.md"))
    (patterns / "LONG_CABLE.sql").write_text(
        "-- id: LONG_CABLE\n-- title: Long cable\n-- severity: low\n-- applies_to: submarine_cable\n"
        "-- basis: R1\n-- reasoning: Test pattern.\n"
        "SELECT entity_kind, entity_id, NULL AS severity, jsonb_build_object('reason', 'long') AS evidence\n"
        "  FROM risk.entities e JOIN core.submarine_cables c ON c.source_id = e.entity_id\n"
        " WHERE e.entity_kind = 'submarine_cable' AND c.length_km > 20000\n"
    )
    added = engine.evaluate(pattern_dir=patterns)
    assert (added.opened, added.opened_baseline, added.resolved) == (1, 1, 0)  # not news for the digest
    assert flags(warehouse)[("peace-cable", "LONG_CABLE")] == ("low", False)


def test_the_territory_rule_macau_and_hong_kong_are_not_abroad(world, warehouse, monkeypatch):
    """The real record: SeaMeWe-3 was flagged CHOKEPOINT as "one of at most two international cables
    of MAC" (TeleGeography files Taipa under China); H2HE, China-Hong Kong only, was PRC_OWNER and
    PRC_SUPPLIER as if abroad. Macau and Hong Kong are PRC territory: neither counts."""
    cables = {k: dict(v) for k, v in tg.CABLES_V1.items()}
    monkeypatch.setitem(tg.COORDINATES, "taipa-china", (113.55, 22.16))
    monkeypatch.setitem(tg.COORDINATES, "tseung-kwan-o-china", (114.26, 22.31))
    monkeypatch.setitem(tg.COORDINATES, "haikou-china", (110.33, 20.03))
    cables["macau-link"] = cable("macau-link", [("taipa-china", "Taipa, China", "China"),
                                                ("gwadar-pakistan", "Gwadar, Pakistan", "Pakistan")], "China Telecom")
    cables["h2he-like"] = cable("h2he-like", [("haikou-china", "Haikou, China", "China"),
                                              ("tseung-kwan-o-china", "Tseung Kwan O, China", "China")], "China Mobile")
    world(cables, name="territories")
    engine.evaluate()
    got = flags(warehouse)
    chokepoints = [evidence for (entity, pattern), (_, evidence) in flags_with_evidence(warehouse).items()
                   if pattern == "CHOKEPOINT" and entity == "macau-link"]  # fmt: skip
    assert all("MAC" not in e["countries"] for e in chokepoints)
    assert ("macau-link", "PRC_OWNER") in got  # Pakistan is abroad
    assert not [k for k in got if k[0] == "h2he-like"]  # China and Hong Kong only: nothing abroad


def cable(cable_id: str, landing_points: list[tuple[str, str, str]], owners: str) -> dict:
    """A TeleGeography cable file built by HMN Tech, in the API's shape."""
    return {"id": cable_id, "name": cable_id.replace("-", " ").title(), "length": "1,000 km",
            "landing_points": [tg._lp(*lp) for lp in landing_points], "owners": owners, "suppliers": "HMN Tech",
            "rfs": "2020", "rfs_year": 2020, "is_planned": False, "url": None, "notes": None}  # fmt: skip


def flags_with_evidence(url):
    return {(e, p): (s, ev) for e, p, s, ev in query(
        url, "SELECT entity_id, pattern_id, severity, evidence FROM risk.flags WHERE resolved_at IS NULL")}
