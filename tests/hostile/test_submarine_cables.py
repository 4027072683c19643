"""Hostile TeleGeography payloads: each case damages the five-cable fixture one way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsrwatch.expectations import RowCountBounds

from helpers import telegeography as tg
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

CABLE_DIR = Path(tg.API) / "cable"
INDEX = CABLE_DIR / "all.json"
GEO = Path(tg.API) / "landing-point" / "landing-point-geo.json"


def edit_cable(cable_id: str, change) -> callable:
    def corrupt(root: Path) -> None:
        path = root / CABLE_DIR / f"{cable_id}.json"
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return corrupt


def write_cable(cable_id: str, body: bytes) -> callable:
    return lambda root: (root / CABLE_DIR / f"{cable_id}.json").write_bytes(body)


def edit_geo(lp_id: str, coordinates) -> callable:
    def corrupt(root: Path) -> None:
        geo = json.loads((root / GEO).read_text())
        for feature in geo["features"]:
            if feature["properties"]["id"] == lp_id:
                feature["geometry"]["coordinates"] = coordinates
        (root / GEO).write_text(json.dumps(geo))

    return corrupt


def add_cable(cable: dict) -> callable:
    def corrupt(root: Path) -> None:
        index = json.loads((root / INDEX).read_text())
        (root / INDEX).write_text(json.dumps([*index, {"id": cable["id"], "name": cable["name"]}]))
        (root / CABLE_DIR / f"{cable['id']}.json").write_text(json.dumps(cable))

    return corrupt


def bloat_landing_points(root: Path) -> None:
    for n in range(10_000):
        tg.COORDINATES[f"bogus-{n}"] = (0.0, 0.0)
    edit_cable("dunant", lambda d: d["landing_points"].extend(
        tg._lp(f"bogus-{n}", f"Bogus {n}, France", "France") for n in range(10_000)))(root)  # fmt: skip
    # the geo file must know the points: rewrite the directory from the bloated cables
    cables = {c: json.loads((root / CABLE_DIR / f"{c}.json").read_text()) for c in tg.CABLES_V1}
    tg.write_replay_dir(root, cables)


CASES = [
    Case("cable file is a JSON array", write_cable("dunant", b"[1, 2, 3]"), SET_ASIDE,
         r"expected a JSON object for one cable, got list", record_key="dunant"),
    Case("cable file truncated", write_cable("dunant", b'{"id": "dunant", "na'), SET_ASIDE,
         r"dunant\.json: not valid JSON", record_key="dunant"),
    Case("cable file empty", write_cable("dunant", b""), SET_ASIDE, r"dunant\.json: not valid JSON"),
    Case("cable file is an HTML error page", write_cable("dunant", b"<html><body>502 Bad Gateway</body></html>"),
         SET_ASIDE, r"dunant\.json: not valid JSON"),
    Case("cable file not UTF-8", write_cable("dunant", '{"id": "dunant", "name": "Dunant \xe9"}'.encode("latin-1")),
         SET_ASIDE, r"not valid JSON"),
    Case("cable missing a field", edit_cable("dunant", lambda d: d.pop("name")), SET_ASIDE,
         r"missing field\(s\) \['name'\]", record_key="dunant"),
    Case("landing points is an object", edit_cable("dunant", lambda d: d.update(landing_points={"a": 1})), SET_ASIDE,
         r"unreadable record: \w+Error", record_key="dunant"),
    Case("10 kB cable name", edit_cable("dunant", lambda d: d.update(name="D" * 10_000)), SET_ASIDE,
         r"10000 bytes long, at most 2000 allowed", record_key="dunant", field="name"),
    Case("NUL byte in a name", edit_cable("dunant", lambda d: d.update(name="Dun\x00ant")), SET_ASIDE,
         r"contains a NUL byte", field="name"),
    Case("year 99999999999", edit_cable("dunant", lambda d: d.update(rfs_year=99_999_999_999)), SET_ASIDE,
         r"out of the integer range", field="rfs_year"),
    Case("year 3021", edit_cable("dunant", lambda d: d.update(rfs_year=3021)), SET_ASIDE,
         r"outside 1850\.\.2100", field="rfs_year"),
    Case("boolean 'maybe'", edit_cable("dunant", lambda d: d.update(is_planned="maybe")), SET_ASIDE,
         r"expected true or false, got str", field="is_planned"),
    Case("infinite length", write_cable("dunant", json.dumps({**tg.CABLES_V1["dunant"], "length": 1}).replace(
        '"length": 1', '"length": 1e999').encode()), SET_ASIDE, r"not a finite number", field="length_km"),
    Case("latitude -999", edit_geo("marseille-france", [5.37, -999]), SET_ASIDE, r"outside -90\.\.90",
         record_key="marseille-france", field="latitude"),
    Case("coordinate 'east'", edit_geo("marseille-france", ["east", 43.3]), SET_ASIDE, r"expected a number, got str",
         field="longitude"),
    Case("cable id with '|'", add_cable({**tg.CABLES_V1["dunant"], "id": "dun|ant", "name": "Pipe"}), SET_ASIDE,
         r"may not contain '\|'", field="source_id"),
    Case("index is an HTML error page", lambda root: (root / INDEX).write_text("<html>503</html>"), FAILED,
         r"all\.json: not valid JSON"),
    Case("index is an object", lambda root: (root / INDEX).write_text('{"cables": []}'), FAILED,
         r"expected a JSON list of cables"),
    Case("empty index", lambda root: (root / INDEX).write_text("[]"), QUARANTINED,
         r"would remove 5 of 5 present entities"),
    Case("geo file truncated", lambda root: (root / GEO).write_text('{"type": "Feature'), FAILED,
         r"landing-point-geo\.json: not valid JSON"),
    Case("enormous cable file", write_cable("dunant", b" " * 300_000 + json.dumps(tg.CABLES_V1["dunant"]).encode()),
         FAILED, r"dunant\.json.*(cap|larger|exceeds|limit)", spec_changes={"max_payload_bytes": 200_000}),
    Case("a cable with 10,000 landing points", bloat_landing_points, QUARANTINED,
         r"core.landing_points: 100\d\d present rows, expected 1\.\.500",
         spec_changes={"expectations": (RowCountBounds("core.landing_points", 1, 500),)}),
    Case("names carrying HTML, SQL and Jinja", edit_cable("dunant", lambda d: d.update(
        name="<script>alert(1)</script>'; DROP TABLE core.submarine_cables; -- {{ 7*7 }}")), LOADED, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_cable_payload(case, hostile, warehouse, monkeypatch):
    monkeypatch.setattr(tg, "COORDINATES", dict(tg.COORDINATES))  # bloat_landing_points adds points
    changed = ("submarine_cables", "entity_changes") if case.outcome == LOADED else ()
    if case.id == "cable id with '|'":  # the valid cables are untouched; the new one is kept out
        changed = ()
    hostile("submarine_cables", lambda root: tg.write_replay_dir(root), case, changed_tables=changed)
    if case.outcome == LOADED:
        from helpers.db import scalar

        assert scalar(warehouse, "SELECT name FROM analyst.submarine_cables WHERE source_id = 'dunant'").startswith(
            "<script>alert(1)</script>'; DROP TABLE")  # stored as the data it is
