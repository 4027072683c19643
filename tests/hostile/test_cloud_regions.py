"""Hostile Cloud Infrastructure Map payloads: each case damages the ten-metro fixture one way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cloud_fixtures as cf
from helpers.db import query, scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

FILE = Path(cf.HOST) / cf.FILE
SHENZHEN = 2  # one metro, one region: Huawei Cloud cn-south-2
SHENZHEN_KEY = "Huawei Cloud|cn-south-2|Shenzhen"


def write_file(body: bytes) -> callable:
    return lambda root: (root / FILE).write_bytes(body)


def edit(change) -> callable:
    """``change(metros)`` edits the list of metros in place."""

    def corrupt(root: Path) -> None:
        doc = json.loads((root / FILE).read_text())
        change(doc["cloud_regions"])
        (root / FILE).write_text(json.dumps(doc))

    return corrupt


def shenzhen(**fields) -> callable:
    return edit(lambda metros: metros[SHENZHEN].update(fields))


def shenzhen_region(**fields) -> callable:
    return edit(lambda metros: metros[SHENZHEN]["cloud_service_providers"][0].update(fields))


def add_metro(metro: dict) -> callable:
    return edit(lambda metros: metros.append(metro))


def add_shenzhen_region(region: object) -> callable:
    return edit(lambda metros: metros[SHENZHEN]["cloud_service_providers"].append(region))


def rename_key_everywhere(metros: list) -> None:
    for metro in metros:
        metro["providers"] = metro.pop("cloud_service_providers")


GOOD = json.dumps(cf.document()).encode()
HOSTILE_NAME = "<script>alert(1)</script>'; DROP TABLE core.cloud_regions; -- {{ 7*7 }}"

CASES = [
    # the payload is not the map: the run fails, naming the file and what was expected
    Case("file is an HTML error page", write_file(b"<html><body>502 Bad Gateway</body></html>"), FAILED,
         r"cloud-regions\.js: not valid JSON"),
    Case("file truncated", write_file(GOOD[: len(GOOD) // 2]), FAILED, r"cloud-regions\.js: not valid JSON"),
    Case("file empty", write_file(b""), FAILED, r"cloud-regions\.js: not valid JSON"),
    Case("file not UTF-8", write_file(GOOD.replace(b"Shenzhen", "Sh\xe9nzhen".encode("latin-1"))), FAILED,
         r"cloud-regions\.js: not valid JSON \('utf-8' codec can't decode"),
    Case("file is a JSON list", write_file(json.dumps(cf.METROS_V1).encode()), FAILED,
         r"expected a JSON object with a 'cloud_regions' list"),
    Case("region list renamed in every metro", edit(rename_key_everywhere), FAILED,
         r"no region could be read \(10 set aside.*missing field\(s\) \['cloud_service_providers'\]"),
    Case("empty map", edit(lambda metros: metros.clear()), QUARANTINED, r"would remove 15 of 15 present entities"),
    # one bad record: set aside, its region keeps its previous version, the rest loads
    Case("metro is a list", edit(lambda metros: metros.insert(SHENZHEN, ["Shenzhen", "China"])), SET_ASIDE,
         r"expected an object per metro, got list", record_key="metro #3"),
    Case("region is a string", shenzhen(cloud_service_providers=["Huawei Cloud cn-south-2"]), SET_ASIDE,
         r"expected an object per region, got str", record_key="Shenzhen region #1"),
    Case("region list is an object", shenzhen(cloud_service_providers={"name": "Huawei Cloud"}), SET_ASIDE,
         r"cloud_service_providers: expected a list, got dict", record_key="metro #3"),
    Case("region without a provider name",
         edit(lambda metros: metros[SHENZHEN]["cloud_service_providers"][0].pop("name")), SET_ASIDE,
         r"missing field\(s\) \['name'\]", record_key="Shenzhen region #1"),
    Case("zones 'many'", shenzhen_region(zones="many"), SET_ASIDE, r"zones: 'many' is not a number",
         record_key=SHENZHEN_KEY),
    Case("in service 'maybe'", shenzhen_region(in_service="maybe"), SET_ASIDE,
         r"in_service: 'maybe' is not true or false", record_key=SHENZHEN_KEY),
    Case("latitude is a list", shenzhen(latitude=[22.5]), SET_ASIDE, r"latitude: \[22\.5\] is not a number",
         record_key=SHENZHEN_KEY),
    Case("latitude NaN", shenzhen(latitude="NaN"), SET_ASIDE, r"not a finite number", record_key=SHENZHEN_KEY,
         field="latitude"),
    Case("longitude infinity", write_file(GOOD.replace(b'"114.057865"', b"1e999")), SET_ASIDE,
         r"not a finite number", record_key=SHENZHEN_KEY, field="longitude"),
    Case("latitude 999", shenzhen(latitude="999"), SET_ASIDE, r"outside -90\.\.90", record_key=SHENZHEN_KEY,
         field="latitude"),
    Case("longitude -181", shenzhen(longitude=-181), SET_ASIDE, r"outside -180\.\.180", field="longitude"),
    Case("zones 99999999999", shenzhen_region(zones="99999999999"), SET_ASIDE, r"out of the integer range",
         field="zones"),
    Case("10 kB region name", shenzhen_region(cloud_region_name="S" * 10_000), SET_ASIDE,
         r"10000 bytes long, at most 2000 allowed", record_key=SHENZHEN_KEY, field="region_name"),
    Case("10 kB provider name", add_shenzhen_region(cf.region("P" * 10_000, "cn-south-9", "New")), SET_ASIDE,
         r"provider name is 10000 bytes long, at most 1000 allowed"),
    Case("NUL byte in a region name", shenzhen_region(cloud_region_name="CN South\x00Shenzhen"), SET_ASIDE,
         r"contains a NUL byte", record_key=SHENZHEN_KEY, field="region_name"),
    Case("metro name with '|'", add_metro(cf.metro("Shen|zhen", "China", "22.5", "114.0",
                                                   cf.region("Huawei Cloud", "cn-south-9", "New"))), SET_ASIDE,
         r"may not contain '\|'", field="metro"),
    # the source's documented quirk: a key listed twice with different values keeps one variant (in
    # service first) and warns; the chosen variant is the one already loaded, so nothing changes
    Case("region listed twice with different values",
         add_shenzhen_region(cf.region("Huawei Cloud", "cn-south-2 ", "CN South-Shenzhen", in_service=False,
                                       zones="9")), LOADED, ""),
    Case("names carrying HTML, SQL and Jinja", shenzhen_region(cloud_region_name=HOSTILE_NAME), LOADED, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_cloud_regions_payload(case, hostile, warehouse):
    changed = ("cloud_regions", "entity_changes") if case.id.startswith("names carrying") else ()
    hostile("cloud_regions", lambda root: cf.write_replay_dir(root), case, changed_tables=changed)
    if case.id.startswith("names carrying"):
        assert scalar(warehouse, "SELECT region_name FROM analyst.cloud_regions WHERE metro = 'Shenzhen'") == HOSTILE_NAME
    if case.id == "region listed twice with different values":
        warnings = scalar(warehouse, """SELECT details -> 'warnings' FROM ops.source_runs
                                         WHERE source = 'cloud_regions' ORDER BY run_id DESC LIMIT 1""")  # fmt: skip
        assert any("Huawei Cloud / cn-south-2 / Shenzhen is listed 2 times with different values" in w
                   and "kept in_service=True, zones=1" in w for w in warnings), warnings  # fmt: skip
    if case.outcome == SET_ASIDE and case.record_key == SHENZHEN_KEY:
        # the region kept its previous version: not updated, not removed
        assert query(warehouse, """SELECT zones, latitude, removed_at FROM core.cloud_regions
                                    WHERE metro = 'Shenzhen'""") == [(1, 22.543096, None)]  # fmt: skip
