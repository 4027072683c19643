"""Small hand-made TeleGeography API v3 replay directories, in the API's exact shape.

The cables are modelled on real ones (PEACE, SAIL, Dunant, Equiano) with the quirks the parser
must survive: null length, empty suppliers, "Co., Ltd." inside an owner list, an ``is_tbd``
landing point, an unknown country name.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

API = "www.submarinecablemap.com/api/v3"


def _lp(lp_id: str, name: str, country: str, is_tbd=None) -> dict:
    return {"id": lp_id, "name": name, "country": country, "is_tbd": is_tbd}


CABLES_V1: dict[str, dict] = {
    "peace-cable": {
        "id": "peace-cable", "name": "PEACE Cable", "length": "21,500 km",
        "landing_points": [
            _lp("gwadar-pakistan", "Gwadar, Pakistan", "Pakistan"),
            _lp("karachi-pakistan", "Karachi, Pakistan", "Pakistan"),
            _lp("mombasa-kenya", "Mombasa, Kenya", "Kenya"),
            _lp("marseille-france", "Marseille, France", "France"),
        ],
        "owners": "Peace Cable International Network Co. Ltd.", "suppliers": "HMN Tech",
        "rfs": "2022 March", "rfs_year": 2022, "is_planned": False, "url": "http://www.peacecable.net", "notes": None,
    },
    "south-atlantic-inter-link-sail": {
        "id": "south-atlantic-inter-link-sail", "name": "South Atlantic Inter Link (SAIL)", "length": "5,800 km",
        "landing_points": [
            _lp("kribi-cameroon", "Kribi, Cameroon", "Cameroon"),
            _lp("fortaleza-brazil", "Fortaleza, Brazil", "Brazil"),
        ],
        "owners": "Camtel, China Unicom", "suppliers": "HMN Tech",
        "rfs": "2018 September", "rfs_year": 2018, "is_planned": False, "url": None, "notes": None,
    },
    "dunant": {
        "id": "dunant", "name": "Dunant", "length": "6,400 km",
        "landing_points": [
            _lp("virginia-beach-va-united-states", "Virginia Beach, VA, United States", "United States"),
            _lp("saint-hilaire-de-riez-france", "Saint-Hilaire-de-Riez, France", "France"),
        ],
        "owners": "Google", "suppliers": "SubCom",
        "rfs": "2021 January", "rfs_year": 2021, "is_planned": False, "url": None, "notes": None,
    },
    "equiano": {
        "id": "equiano", "name": "Equiano", "length": None,
        "landing_points": [
            _lp("lisbon-portugal", "Lisbon, Portugal", "Portugal"),
            _lp("lagos-nigeria", "Lagos, Nigeria", "Nigeria"),
            _lp("swakopmund-namibia", "Swakopmund, Namibia", "Namibia", is_tbd=True),
        ],
        "owners": "Google", "suppliers": "ASN",
        "rfs": "2023 Q3", "rfs_year": 2023, "is_planned": True, "url": None, "notes": None,
    },
    "seren-juno": {
        "id": "seren-juno", "name": "Seren Juno", "length": "10,000 km",
        "landing_points": [
            _lp("maruyama-japan", "Maruyama, Japan", "Japan"),
            _lp("atlantis-atlantis", "Poseidonia, Atlantis", "Atlantis"),
        ],
        "owners": "Seren Juno Network Co., Ltd., Ocean Specialists, Inc (OSI)", "suppliers": None,
        "rfs": None, "rfs_year": None, "is_planned": True, "url": None, "notes": "Planned.",
    },
}

# Points only the geo file knows (no cable lands there in this fixture).
GEO_ONLY = [("hainan-china", "Hainan, China", False, 110.35, 20.02)]

COORDINATES = {
    "gwadar-pakistan": (62.32, 25.12), "karachi-pakistan": (67.01, 24.86), "mombasa-kenya": (39.66, -4.04),
    "marseille-france": (5.37, 43.30), "kribi-cameroon": (9.91, 2.94), "fortaleza-brazil": (-38.54, -3.72),
    "virginia-beach-va-united-states": (-75.98, 36.85), "saint-hilaire-de-riez-france": (-1.94, 46.72),
    "lisbon-portugal": (-9.14, 38.72), "lagos-nigeria": (3.38, 6.45), "swakopmund-namibia": (14.53, -22.68),
    "maruyama-japan": (139.9, 35.0), "atlantis-atlantis": (-30.0, 30.0),
}  # fmt: skip


def cables_v2() -> dict[str, dict]:
    """v1 with exactly one cable added, one modified and one removed."""
    cables = copy.deepcopy(CABLES_V1)
    del cables["dunant"]  # removed
    cables["equiano"]["length"] = "15,000 km"  # modified
    cables["equiano"]["is_planned"] = False
    cables["2africa"] = {  # added
        "id": "2africa", "name": "2Africa", "length": "45,000 km",
        "landing_points": [_lp("mombasa-kenya", "Mombasa, Kenya", "Kenya")],
        "owners": "China Mobile, Meta, MTN", "suppliers": "ASN",
        "rfs": "2024", "rfs_year": 2024, "is_planned": True, "url": None, "notes": None,
    }
    return cables


def write_replay_dir(root: Path, cables: dict[str, dict] | None = None) -> Path:
    """Write a replay directory for ``cables`` (default v1) under ``root``; returns ``root``."""
    cables = CABLES_V1 if cables is None else cables
    api = root / API
    (api / "cable").mkdir(parents=True, exist_ok=True)
    (api / "landing-point").mkdir(parents=True, exist_ok=True)
    index = [{"id": c["id"], "name": c["name"]} for c in cables.values()]
    (api / "cable" / "all.json").write_text(json.dumps(index))
    for cable in cables.values():
        (api / "cable" / f"{cable['id']}.json").write_text(json.dumps(cable))
    features = []
    seen = set()
    for cable in cables.values():
        for lp in cable["landing_points"]:
            if lp["id"] in seen:
                continue
            seen.add(lp["id"])
            lon, lat = COORDINATES[lp["id"]]
            features.append({"type": "Feature", "properties": {"id": lp["id"], "name": lp["name"],
                             "is_tbd": bool(lp["is_tbd"])}, "geometry": {"type": "Point", "coordinates": [lon, lat]}})  # fmt: skip
    for lp_id, name, is_tbd, lon, lat in GEO_ONLY:
        features.append({"type": "Feature", "properties": {"id": lp_id, "name": name, "is_tbd": is_tbd},
                         "geometry": {"type": "Point", "coordinates": [lon, lat]}})  # fmt: skip
    geo = {"type": "FeatureCollection", "name": "landing points", "features": features}
    (api / "landing-point" / "landing-point-geo.json").write_text(json.dumps(geo))
    return root
