"""The TeleGeography parser on small hand-made payloads in the API's exact shape."""

import json

import pytest

from dsrwatch.normalise.organisations import OrganisationResolver, RegistryOrganisation
from dsrwatch.sources import submarine_cables as sc
from dsrwatch.sources.base import SourceFormatError
from dsrwatch.warehouse.raw import RawPayload

from helpers import telegeography as tg

REGISTRY = [RegistryOrganisation("hmn-technologies", "HMN Technologies Co., Ltd.", ("HMN Tech", "Huawei Marine Networks"))]


def payloads(cables=None):
    cables = tg.CABLES_V1 if cables is None else cables
    out = [RawPayload(sc.CABLE_INDEX_URL, json.dumps([{"id": c, "name": v["name"]} for c, v in cables.items()]).encode())]
    out += [RawPayload(sc.cable_url(c), json.dumps(v).encode()) for c, v in cables.items()]
    features = [
        {"type": "Feature", "properties": {"id": lp, "name": lp, "is_tbd": False},
         "geometry": {"type": "Point", "coordinates": list(xy)}}
        for lp, xy in tg.COORDINATES.items()
    ]
    out.append(RawPayload(sc.LANDING_POINT_GEO_URL, json.dumps({"type": "FeatureCollection", "features": features}).encode()))
    return out


def parse(cables=None):
    return sc.parse(payloads(cables), resolver=OrganisationResolver(REGISTRY))


def rows_by_key(batch, table):
    return {r[0]: r for r in batch.rows[table]}


def test_cable_fields_are_typed():
    cables = rows_by_key(parse(), "core.submarine_cables")
    assert cables["peace-cable"] == ("peace-cable", "PEACE Cable", 21500.0, "2022 March", 2022, False,
                                     "http://www.peacecable.net", None)
    assert cables["equiano"][2] is None  # null length stays null
    assert cables["seren-juno"][4] is None and cables["seren-juno"][5] is True


@pytest.mark.parametrize(("text", "km"), [("21,500 km", 21500.0), ("1,234.5 km", 1234.5), ("900 KM", 900.0),
                                          (None, None), ("n/a", None), (120, 120.0)])
def test_length_parsing(text, km):
    assert sc.parse_length_km(text) == km


def test_owner_lists_keep_legal_forms_together_and_suppliers_may_be_empty():
    parties = parse().rows["core.cable_parties"]
    seren = sorted((r[1], r[3]) for r in parties if r[0] == "seren-juno")
    assert seren == [("owner", "Ocean Specialists, Inc (OSI)"), ("owner", "Seren Juno Network Co., Ltd.")]
    assert not [r for r in parties if r[0] == "seren-juno" and r[1] == "supplier"]


def test_supplier_resolves_through_registry_alias():
    parties = parse().rows["core.cable_parties"]
    assert ("peace-cable", "supplier", "hmn-technologies", "HMN Tech") in parties
    aliases = {r[0]: r for r in parse().rows["core.organisation_aliases"]}
    assert aliases["HMN Tech"][1:3] == ("hmn-technologies", "registry-alias")
    assert aliases["Google"][1:3] == ("google", "source-name")


def test_landing_points_countries_tbd_and_unknown():
    batch = parse()
    points = rows_by_key(batch, "core.landing_points")
    assert points["gwadar-pakistan"][2:6] == ("Pakistan", "PAK", 25.12, 62.32)
    assert points["swakopmund-namibia"][6] is False  # geo file's is_tbd wins over the cable file's
    assert points["atlantis-atlantis"][3] is None  # unknown country: no ISO code, and a warning
    assert any("Atlantis" in w for w in batch.warnings)
    links = batch.rows["core.cable_landing_points"]
    assert ("peace-cable", "mombasa-kenya") in links and len(links) == len(set(links))


def test_a_truncated_cable_file_is_set_aside_with_a_clear_reason():
    bad = payloads()
    bad[1] = RawPayload(bad[1].url, bad[1].body[:40])
    batch = sc.parse(bad, resolver=OrganisationResolver())
    [record] = batch.set_aside
    assert (record.record_key, record.entity_key, record.url) == ("peace-cable", ("peace-cable",), bad[1].url)
    assert "peace-cable.json: not valid JSON" in record.reason
    assert "peace-cable" not in {row[0] for row in batch.rows[sc.CABLES.table]}
    assert batch.entities == len(tg.CABLES_V1) - 1  # the others parse


def test_missing_cable_file_is_a_clear_error():
    incomplete = [p for p in payloads() if not p.url.endswith("/dunant.json")]
    with pytest.raises(SourceFormatError, match="no cable file.*dunant"):
        sc.parse(incomplete, resolver=OrganisationResolver())


def test_schema_drift_names_the_missing_field():
    drifted = {k: dict(v) for k, v in tg.CABLES_V1.items()}
    del drifted["dunant"]["landing_points"]
    [record] = parse(drifted).set_aside
    assert record.record_key == "dunant"
    assert "dunant.json: record is missing field(s) ['landing_points']" in record.reason
