"""Small hand-made Cloud Infrastructure Map replay directories, in ``cloud-regions.js``'s exact shape.

The metros are modelled on real entries and carry the quirks the parser must survive: a metro
listed twice at different coordinates (Beijing), an entry repeated verbatim (Tokyo), a region code
with trailing whitespace (Shenzhen), regions without a code (Cairo, Vienna), one code in two metros
(Alibaba me-east-1 in Dubai and Riyadh), one key listed with two different names and zone counts
(Oracle us-ashburn-1 in Washington), and Hong Kong filed under country "China".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

HOST = "www.cloudinfrastructuremap.com"
FILE = "api/service/cloud-regions.js"


def region(name: str, code: str | None, region_name: str, in_service: bool = True, zones: str = "3") -> dict:
    """One entry of ``cloud_service_providers``, keys in the API's order."""
    return {"cloud_region_name": region_name, "in_service": in_service, "name": name, "zones": zones,
            "cloud_region": code}  # fmt: skip


def metro(metro_area: str, country: str, latitude: str, longitude: str, *regions: dict) -> dict:
    return {"metro_area": metro_area, "country": country, "latitude": latitude, "longitude": longitude,
            "cloud_service_providers": list(regions)}  # fmt: skip


def _beijing(latitude: str, longitude: str) -> dict:
    return metro("Beijing", "China", latitude, longitude,
                 region("Alibaba Cloud", "cn-beijing", "China North 2 (Beijing)", zones="12"),
                 region("Huawei Cloud", "cn-north-1", "CN North-Beijing1", zones="2"))  # fmt: skip


METROS_V1: list[dict] = [
    _beijing("39.906010", "116.387909"),
    metro("Hong Kong", "China", "22.302711", "114.177216",
          region("Alibaba Cloud", "cn-hongkong", "China (Hong Kong)"),
          region("Amazon Web Services", "ap-east-1", "Asia Pacific (Hong Kong)"),
          region("Tencent Cloud", "ap-hongkong", "Hong Kong, China", zones="2")),
    metro("Shenzhen", "China", "22.543096", "114.057865",
          region("Huawei Cloud", "cn-south-2 ", "CN South-Shenzhen", zones="1")),
    _beijing("39.509720000000002", "116.69472"),
    metro("Cairo", "Egypt", "30.044420", "31.235712",
          region("Huawei Cloud", None, "Huawei Cloud North Africa (Cairo)", zones="1")),
    metro("Dubai", "United Arab Emirates", "25.204849", "55.270783",
          region("Alibaba Cloud", "me-east-1", "Middle East 1 (Dubai)", zones="1")),
    metro("Riyadh", "Saudi Arabia", "24.713552", "46.675296",
          region("Alibaba Cloud", "me-east-1", "Middle East 1 (Riyadh)", zones="1"),
          region("Huawei Cloud", "me-east-1", "ME-Riyadh", zones="3")),
    metro("Tokyo", "Japan", "35.5092405", "139.7698121",
          region("Tencent Cloud", "ap-tokyo", "Tokyo, Japan", zones="2"),
          region("Tencent Cloud", "ap-tokyo", "Tokyo, Japan", zones="2"),
          region("Google Cloud", "asia-northeast1", "Tokyo")),
    metro("Vienna", "Austria", "48.208176", "16.373819",
          region("Google Cloud", None, "Austria", in_service=False)),
    metro("Washington", "United States", "38.890370", "-77.031959",
          region("Oracle Cloud", "us-ashburn-1", "US DoD East", zones="1"),
          region("Oracle Cloud", "us-ashburn-1", "US East (Ashburn)"),
          region("Tencent Cloud", "na-ashburn", "Virginia, US", zones="2")),
]  # fmt: skip

# Distinct (provider, region code, metro) keys in METROS_V1.
V1_KEYS = 15


def metros_v2() -> list[dict]:
    """v1 with exactly one region added, one modified and one removed."""
    metros = copy.deepcopy(METROS_V1)
    by_name = {m["metro_area"]: m for m in metros if m["metro_area"] != "Beijing"}
    # removed: Google's planned Vienna region
    by_name["Vienna"]["cloud_service_providers"] = []
    # modified: Huawei Cairo goes live with more zones (same key, no code yet)
    by_name["Cairo"]["cloud_service_providers"][0]["zones"] = "3"
    # added: Tencent opens Riyadh
    by_name["Riyadh"]["cloud_service_providers"].append(region("Tencent Cloud", "me-saudi-arabia", "Saudi Arabia"))
    return metros


def document(metros: list[dict] | None = None) -> dict:
    return {"name": "Cloud Regions", "cloud_regions": METROS_V1 if metros is None else metros}


def write_replay_dir(root: Path, metros: list[dict] | None = None) -> Path:
    """Write a replay directory holding ``cloud-regions.js`` for ``metros`` (default v1)."""
    target = root / HOST / FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document(metros)))
    return root
