"""Small hand-made PeeringDB ``/api/fac`` and ``/api/org`` pages, in the API's exact shape.

Records carry every field of a ``depth=0`` object in PeeringDB's order. The facilities are modelled
on real ones: China Mobile International's Frankfurt site (a Hong Kong-linked state operator),
China Unicom's Hong Kong centre, a GDS site in Shanghai, Equinix sites, a facility in Kosovo
(country ``XK``, not in pycountry) without coordinates. One organisation is a network without a
facility. Replay files are named as the fetch layer names them: ``<host>/api/fac?<query>``.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

from dsrwatch.fetching import build_url, url_to_relative_path
from dsrwatch.sources import peeringdb


def fac(facility_id: int, org_id: int, org_name: str, name: str, city: str, country: str,
        latitude: float | None, longitude: float | None, created: str, updated: str, status: str = "ok") -> dict:  # fmt: skip
    """A facility record with every field of the real API, in its order."""
    website = f"https://dc{facility_id}.example.net/"
    return {
        "id": facility_id, "org_id": org_id, "org_name": org_name, "campus_id": None, "name": name, "aka": "",
        "name_long": "", "website": website, "social_media": [{"service": "website", "identifier": website}],
        "clli": "", "rencode": "", "npanxx": "", "notes": "", "net_count": 12, "ix_count": 1, "carrier_count": 0,
        "sales_email": "", "sales_phone": "", "tech_email": "", "tech_phone": "", "available_voltage_services": [],
        "diverse_serving_substations": None, "property": "", "region_continent": "Europe", "status_dashboard": "",
        "logo": None, "created": created, "updated": updated, "status": status, "address1": "1 Example Street",
        "address2": "", "city": city, "country": country, "state": "", "zipcode": "", "floor": "", "suite": "",
        "latitude": latitude, "longitude": longitude,
    }  # fmt: skip


def org(org_id: int, name: str, country: str, created: str, updated: str, status: str = "ok", aka: str = "") -> dict:
    """An organisation record with every field of the real API, in its order."""
    website = f"https://org{org_id}.example.net"
    return {
        "id": org_id, "name": name, "aka": aka, "name_long": "", "website": website,
        "social_media": [{"service": "website", "identifier": website}], "notes": "", "logo": None,
        "address1": "", "address2": "", "city": "", "country": country, "state": "", "zipcode": "", "floor": "",
        "suite": "", "latitude": None, "longitude": None, "created": created, "updated": updated, "status": status,
    }  # fmt: skip


FACILITIES_V1 = [
    fac(101, 2001, "China Mobile International Limited", "China Mobile International - Frankfurt DC", "Frankfurt",
        "DE", 50.1109, 8.6821, "2023-03-01T08:00:00Z", "2026-08-12T02:45:47Z"),
    fac(102, 2002, "China Unicom", "China Unicom (Hong Kong) Global Center", "Hong Kong", "HK", 22.283346,
        114.26924, "2016-07-02T04:05:04Z", "2026-09-01T09:40:00Z"),
    fac(103, 2003, "GDS Services Ltd", "GDS Shanghai 3", "Shanghai", "CN", 31.2304, 121.4737,
        "2019-05-10T00:00:00Z", "2025-01-15T11:00:00Z"),
    fac(104, 2004, "Equinix, Inc.", "Equinix AM7 - Amsterdam", "Amsterdam", "NL", 52.3545, 4.8374,
        "2010-07-29T00:00:00Z", "2026-02-12T20:01:14Z"),
    fac(105, 2005, "Kujtesa Net", "Kujtesa Prishtina DC", "Pristina", "XK", None, None,
        "2021-11-20T10:00:00Z", "2024-03-03T03:03:03Z"),
    fac(106, 2004, "Equinix, Inc.", "Equinix SG1 - Singapore", "Singapore", "SG", 1.3346, 103.8875,
        "2010-07-29T00:00:00Z", "2026-09-01T10:00:00Z"),
    fac(107, 2006, "Example Hosting Ltd", "Example DC Nairobi", "Nairobi", "KE", -1.2921, 36.8219,
        "2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z"),
]  # fmt: skip

ORGANISATIONS_V1 = [
    org(2001, "China Mobile International Limited", "", "2011-10-25T02:32:10Z", "2026-08-24T04:02:46Z"),
    org(2002, "China Unicom", "CN", "2006-03-01T22:33:29Z", "2026-08-12T09:29:51Z", aka="China Unicom"),
    org(2003, "GDS Services Ltd", "CN", "2019-05-01T00:00:00Z", "2025-01-15T10:00:00Z"),
    org(2004, "Equinix, Inc.", "US", "2010-07-29T00:00:00Z", "2023-10-30T09:54:43Z"),
    org(2005, "Kujtesa Net", "XK", "2015-01-01T00:00:00Z", "2024-03-03T03:00:00Z"),
    org(2006, "Example Hosting Ltd", "", "2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z"),
    org(2007, "Example Transit Networks", "", "2012-01-01T00:00:00Z", "2026-09-01T09:30:00Z"),
    org(2010, "China Telecom Americas", "US", "2005-01-01T00:00:00Z", "2022-05-01T00:00:00Z"),
]  # fmt: skip

# The newest ``updated`` stamps of v1 (facility 106, organisation 2007).
V1_NEWEST = {"fac": "2026-09-01T10:00:00Z", "org": "2026-09-01T09:30:00Z"}

V2_STAMP = "2026-09-05T08:00:00Z"


def changes_v2() -> tuple[list[dict], list[dict]]:
    """What ``since`` returns after v1: one facility modified, one deleted, one added; one
    organisation renamed and one added."""
    facilities = {f["id"]: copy.deepcopy(f) for f in FACILITIES_V1}
    organisations = {o["id"]: copy.deepcopy(o) for o in ORGANISATIONS_V1}
    changed_facilities = [
        {**facilities[104], "name": "Equinix AM7 - Amsterdam Science Park", "updated": V2_STAMP},
        {**facilities[106], "status": "deleted", "updated": "2026-09-05T09:00:00Z"},
        fac(108, 2008, "CITIC Telecom CPC Netherlands B.V.", "CITIC Telecom CPC Amsterdam", "Amsterdam", "NL",
            52.3, 4.9, "2026-09-05T07:00:00Z", "2026-09-05T07:00:00Z"),
    ]  # fmt: skip
    changed_organisations = [
        {**organisations[2006], "name": "Example Hosting Group Ltd", "updated": "2026-09-05T06:00:00Z"},
        org(2008, "CITIC Telecom CPC Netherlands B.V.", "NL", "2026-09-05T06:30:00Z", "2026-09-05T06:30:00Z"),
    ]
    return changed_facilities, changed_organisations


def updated_at(record: dict) -> int:
    return int(datetime.fromisoformat(record["updated"]).timestamp())


def changed_since(records: list[dict], since: int) -> list[dict]:
    """What PeeringDB answers to ``since``: records updated at or after it, deleted ones included."""
    return [r for r in records if updated_at(r) >= since]


def page_url(endpoint: str, since: int | None, skip: int, limit: int) -> str:
    return build_url(f"{peeringdb.API_BASE}/{endpoint}", peeringdb.page_params(since, skip, limit))


def page_body(records: list[dict]) -> bytes:
    return json.dumps({"data": records, "meta": {}}).encode()


def pages(records: list[dict], limit: int) -> list[list[dict]]:
    """Split into pages of ``limit`` as the API would; a full last page is followed by an empty one.
    Records without an integer id (hostile ones) come first, in the order given."""
    ordered = sorted(records, key=lambda r: r["id"] if isinstance(r, dict) and type(r.get("id")) is int else -1)
    chunks = [ordered[i : i + limit] for i in range(0, len(ordered), limit)]
    if not chunks or len(chunks[-1]) == limit:
        chunks.append([])
    return chunks


def write_pages(root: Path, endpoint: str, records: list[dict], limit: int, since: int | None = None) -> int:
    """Write one endpoint's pages into the replay directory ``root``; returns the number of pages."""
    chunks = pages(records, limit)
    for index, chunk in enumerate(chunks):
        target = root / url_to_relative_path(page_url(endpoint, since, index * limit, limit))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page_body(chunk))
    return len(chunks)


def write_replay_dir(root: Path, facilities: list[dict], organisations: list[dict], limit: int,
                     since: dict[str, int] | None = None) -> Path:  # fmt: skip
    """A complete read (``since`` None) or an incremental one (``since`` per endpoint)."""
    since = since or {}
    write_pages(root, "fac", facilities, limit, since.get("fac"))
    write_pages(root, "org", organisations, limit, since.get("org"))
    return root


def apply_changes(records: list[dict], changes: list[dict]) -> list[dict]:
    """The source's state after ``changes`` (same id replaces, new id adds; deleted ones stay, as in PeeringDB)."""
    by_id = {r["id"]: r for r in records}
    by_id.update({r["id"]: r for r in changes})
    return [by_id[i] for i in sorted(by_id)]
