"""Hostile PeeringDB pages: each case damages the seven-facility fixture's complete read one way.

Both runs of a case are complete reads (``FULL_REFRESH_DAYS`` is 0 here), so the hostile run reads
the same pages as the good one, one of them damaged.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsrwatch.fetching import url_to_relative_path
from dsrwatch.sources import peeringdb

from helpers import peeringdb_fixtures as pf
from helpers.db import scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

LIMIT = 3
HOSTILE_NAME = "<script>alert(1)</script>'; DROP TABLE core.peeringdb_facilities; -- {{ 7*7 }} {% raw %}"


def write_good(root: Path) -> Path:
    return pf.write_replay_dir(root, pf.FACILITIES_V1, pf.ORGANISATIONS_V1, LIMIT)


def fac_page(body: bytes, skip: int = 0):
    return lambda root: (root / url_to_relative_path(pf.page_url("fac", None, skip, LIMIT))).write_bytes(body)


def facilities(change):
    """Rewrite the /api/fac pages from ``change(facilities)``."""
    return lambda root: pf.write_pages(root, "fac", change(copy.deepcopy(pf.FACILITIES_V1)), LIMIT)


def facility(facility_id: int, **changes):
    return facilities(lambda fs: [{**f, **changes} if f["id"] == facility_id else f for f in fs])


def without(facility_id: int, field: str):
    return facilities(lambda fs: [{k: v for k, v in f.items() if k != field or f["id"] != facility_id} for f in fs])


def organisation(org_id: int, **changes):
    return lambda root: pf.write_pages(
        root, "org", [{**o, **changes} if o["id"] == org_id else o for o in copy.deepcopy(pf.ORGANISATIONS_V1)], LIMIT)


def twin(facility_id: int, **changes):
    """The facility listed twice, the second time with other values and the same ``updated``."""
    return facilities(lambda fs: fs + [{**f, **changes} for f in fs if f["id"] == facility_id])


CASES = [
    # a page that cannot be read at all fails the run, naming it
    Case("fac page truncated", fac_page(b'{"data": [{"id": 101, "na'), FAILED,
         r"https://www\.peeringdb\.com/api/fac\?depth=0&limit=3&skip=0: not valid JSON"),
    Case("fac page empty", fac_page(b""), FAILED, r"/api/fac\?depth=0&limit=3&skip=0: not valid JSON"),
    Case("fac page is an HTML error page", fac_page(b"<html><body><h1>502 Bad Gateway</h1></body></html>"), FAILED,
         r"/api/fac\?depth=0&limit=3&skip=0: not valid JSON"),
    Case("page without a data list", fac_page(b'{"message": "Request was throttled."}', skip=3), FAILED,
         r"/api/fac\?depth=0&limit=3&skip=3: expected a JSON object with a 'data' list"),
    Case("enormous page", fac_page(b" " * 300_000 + pf.page_body(pf.FACILITIES_V1[:3])), FAILED,
         r"api/fac.*(cap|larger|exceeds|limit)", spec_changes={"max_payload_bytes": 200_000}),
    # a record that cannot be read is set aside; the rest of the run loads
    Case("record is a JSON array", facilities(lambda fs: [[101, "Frankfurt"], *fs]), SET_ASIDE,
         r"unreadable record: TypeError: expected an object per record, got list", record_key="/api/fac #0"),
    Case("facility missing 'updated'", without(104, "updated"), SET_ASIDE,
         r"record is missing field\(s\) \['updated'\]", record_key="104"),
    Case("facility missing 'org_id'", without(104, "org_id"), SET_ASIDE,
         r"record is missing field\(s\) \['org_id'\]", record_key="104"),
    Case("id is text", facility(104, id="one-oh-four"), SET_ASIDE,
         r"id is 'one-oh-four', expected an integer", record_key="one-oh-four"),
    Case("latitude is text", facility(104, latitude="north"), SET_ASIDE,
         r"ValueError: latitude is 'north', expected a number", record_key="104"),
    Case("name is an object", facility(104, name={"en": "Equinix AM7"}), SET_ASIDE,
         r"TypeError: name is \{'en': 'Equinix AM7'\}, expected text", record_key="104"),
    Case("the same id twice with different values", twin(104, name="Equinix AM7 bis"), SET_ASIDE,
         r"the source lists this key twice with different values", record_key="104"),
    Case("NUL byte in a name", facility(104, name="Equinix\x00AM7"), SET_ASIDE, r"contains a NUL byte",
         record_key="104", field="name"),
    Case("10 kB facility name", facility(104, name="E" * 10_000), SET_ASIDE,
         r"10000 bytes long, at most 2000 allowed", record_key="104", field="name"),
    Case("10 kB operator name", facility(104, org_name="E" * 10_000), SET_ASIDE,
         r"org_name is 10000 bytes long, at most 1000 allowed for a key", record_key="104"),
    Case("NaN latitude", facility(104, latitude=float("nan")), SET_ASIDE, r"not a finite number \(NaN or infinity\)",
         record_key="104", field="latitude"),
    Case("infinite longitude", facility(104, longitude=float("inf")), SET_ASIDE, r"not a finite number",
         record_key="104", field="longitude"),
    Case("latitude 91", facility(104, latitude=91.0), SET_ASIDE, r"outside -90\.\.90", record_key="104",
         field="latitude"),
    Case("longitude -999", facility(104, longitude=-999), SET_ASIDE, r"outside -180\.\.180", record_key="104",
         field="longitude"),
    # a future stamp is set aside and never becomes the cursor (106 holds the newest stamp)
    Case("updated in year 9999", facility(106, updated="9999-12-31T23:59:59Z"), SET_ASIDE,
         r"^core\.peeringdb_facilities: in the future \(after \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$", record_key="106",
         field="updated"),
    Case("updated next year", facility(106, updated=f"{datetime.now(UTC).year + 1}-06-01T00:00:00Z"), SET_ASIDE,
         r"in the future", record_key="106", field="updated"),
    Case("created in the future", facility(104, created="2150-01-01T00:00:00Z"), SET_ASIDE,
         r"in the future \(after", record_key="104", field="created"),
    # an organisation, or a record without a readable id, cannot be kept by validation: the complete
    # read then removes nothing for being absent (the organisation, the facility stay as they were)
    Case("organisation name is a list", organisation(2007, name=["Example", "Transit"]), SET_ASIDE,
         r"core\.peeringdb_organisations: unreadable record: TypeError: name is \['Example', 'Transit'\], expected text",
         record_key="2007"),
    # a whole page of unreadable records is the source that is broken, not a record
    Case("every facility missing 'updated'", facilities(lambda fs: [{k: v for k, v in f.items() if k != "updated"}
                                                                    for f in fs]),
         QUARANTINED, r"peeringdb run \d+ quarantined.*7 of \d+ records set aside as invalid, at most 1% \(1\) allowed"),
    Case("names carrying HTML, SQL and Jinja", facility(104, name=HOSTILE_NAME), LOADED, ""),
]  # fmt: skip


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", LIMIT)
    monkeypatch.setattr(peeringdb, "FULL_REFRESH_DAYS", 0)  # every run a complete read of the same pages


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_peeringdb_payload(case, hostile, warehouse):
    changed = ("peeringdb_facilities", "entity_changes") if case.outcome == LOADED else ()
    hostile("peeringdb", write_good, case, changed_tables=changed)
    cursor = scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'peeringdb'")
    now = datetime.now(UTC).timestamp()
    assert all(stamp < now for stamp in [*cursor["since"].values(), cursor["full_refresh_at"]]), cursor
    if case.id.startswith("updated in"):
        # the newest trusted stamps are facility 102's and organisation 2007's: never the future one
        newest = {"fac": ts("2026-09-01T09:40:00Z"), "org": ts(pf.V1_NEWEST["org"])}
        assert cursor == {"since": {e: s - 3600 for e, s in newest.items()}, "full_refresh_at": newest["fac"]}
        assert scalar(warehouse, "SELECT updated FROM core.peeringdb_facilities WHERE facility_id = 106").year == 2026
    if case.outcome == LOADED:
        assert scalar(warehouse, "SELECT name FROM analyst.data_centres WHERE facility_id = 104") == HOSTILE_NAME
    if case.id in ("id is text", "organisation name is a list"):
        warnings = scalar(warehouse, "SELECT details -> 'warnings' FROM ops.source_runs ORDER BY run_id DESC LIMIT 1")
        assert any("nothing is marked removed for being absent this time" in w for w in warnings), warnings


def test_the_page_files_are_where_the_fetch_looks(tmp_path):
    """Guards the corruptors above: they must hit the files the run reads."""
    write_good(tmp_path)
    path = tmp_path / url_to_relative_path(pf.page_url("fac", None, 0, LIMIT))
    assert [r["id"] for r in json.loads(path.read_bytes())["data"]] == [101, 102, 103]
