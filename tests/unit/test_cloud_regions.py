"""Cloud Infrastructure Map parser (plugins/dsrwatch/sources/cloud_regions.py) on hand-made fixtures."""

from __future__ import annotations

import copy
import json
import re

import pytest

from dsrwatch.fetching import Fetcher
from dsrwatch.sources import cloud_regions
from dsrwatch.sources.base import SourceFormatError
from dsrwatch.validation import _first_per_entity
from dsrwatch.warehouse.raw import RawPayload

from helpers import cloud_fixtures as cf

URL = cloud_regions.CLOUD_REGIONS_URL
COLUMNS = cloud_regions.CLOUD_REGIONS.all_columns


def parse(metros=None, document=None):
    body = json.dumps(document if document is not None else cf.document(metros)).encode()
    return cloud_regions.parse([RawPayload(URL, body)])


def rows_by_key(batch) -> dict[tuple, dict]:
    return {row[:3]: dict(zip(COLUMNS, row, strict=True)) for row in batch.rows["core.cloud_regions"]}


def test_one_row_per_provider_region_and_metro():
    batch = parse()
    rows = rows_by_key(batch)
    assert batch.entities == len(rows) == cf.V1_KEYS
    assert batch.complete and batch.cursor is None
    tokyo = rows[("Tencent Cloud", "ap-tokyo", "Tokyo")]
    assert tokyo == {"provider": "Tencent Cloud", "region_code": "ap-tokyo", "metro": "Tokyo", "region_name": "Tokyo, Japan",
                     "country_name": "Japan", "country_iso3": "JPN", "latitude": 35.5092405, "longitude": 139.7698121,
                     "in_service": True, "zones": 2, "provider_organisation_id": "tencent-cloud"}  # fmt: skip


def test_duplicate_metro_collapses_and_keeps_one_set_of_coordinates_with_a_warning():
    batch = parse()
    rows = rows_by_key(batch)
    beijing = [r for r in rows.values() if r["metro"] == "Beijing"]
    assert sorted(r["provider"] for r in beijing) == ["Alibaba Cloud", "Huawei Cloud"]
    assert {(r["latitude"], r["longitude"]) for r in beijing} == {(39.50972, 116.69472)}
    assert any("metro 'Beijing' is listed at 2 different coordinates" in w for w in batch.warnings)
    # a verbatim repeat (Tencent Tokyo) collapses silently
    assert not any("Tokyo" in w for w in batch.warnings)


def test_conflicting_duplicate_keeps_the_in_service_variant_with_most_zones_and_warns():
    batch = parse()
    ashburn = rows_by_key(batch)[("Oracle Cloud", "us-ashburn-1", "Washington")]
    assert (ashburn["region_name"], ashburn["zones"]) == ("US East (Ashburn)", 3)
    warning = next(w for w in batch.warnings if "us-ashburn-1" in w)
    assert "listed 2 times with different values" in warning and "kept region_name='US East (Ashburn)'" in warning


def test_choice_does_not_depend_on_source_order():
    reordered = copy.deepcopy(cf.METROS_V1)[::-1]
    for metro in reordered:
        metro["cloud_service_providers"].reverse()
    assert sorted(parse(reordered).rows["core.cloud_regions"]) == sorted(parse().rows["core.cloud_regions"])


def test_region_without_code_gets_a_name_token_key():
    rows = rows_by_key(parse())
    cairo = rows[("Huawei Cloud", "name:Huawei Cloud North Africa (Cairo)", "Cairo")]
    assert cairo["country_iso3"] == "EGY" and cairo["in_service"] is True
    vienna = rows[("Google Cloud", "name:Austria", "Vienna")]
    assert vienna["in_service"] is False
    assert cloud_regions.region_key_code(None, None) == "name:"


def test_same_code_in_two_metros_is_two_rows():
    batch = parse()
    rows = rows_by_key(batch)
    assert ("Alibaba Cloud", "me-east-1", "Dubai") in rows and ("Alibaba Cloud", "me-east-1", "Riyadh") in rows
    assert "Alibaba Cloud region me-east-1 is listed in 2 metros ['Dubai', 'Riyadh']: one row each" in batch.warnings
    # Huawei's me-east-1 is a different provider's code: no warning about it
    assert not any("Huawei Cloud region me-east-1" in w for w in batch.warnings)


def test_hong_kong_is_its_own_country_and_codes_are_trimmed():
    rows = rows_by_key(parse())
    hong_kong = rows[("Alibaba Cloud", "cn-hongkong", "Hong Kong")]
    assert (hong_kong["country_name"], hong_kong["country_iso3"]) == ("China", "HKG")
    assert rows[("Huawei Cloud", "cn-south-2", "Shenzhen")]["country_iso3"] == "CHN"
    assert cloud_regions.country_iso3("China", "Macau") == "MAC"
    assert cloud_regions.country_iso3("China", "Beijing") == "CHN"


def test_providers_resolve_to_the_registry():
    batch = parse()
    organisations = dict(batch.rows["core.organisations"])
    assert {"alibaba-cloud", "huawei-cloud", "tencent-cloud"} <= set(organisations)
    assert organisations["amazon-web-services"] == "Amazon Web Services"
    aliases = {a[0]: a[1:3] for a in batch.rows["core.organisation_aliases"]}
    assert aliases["Huawei Cloud"] == ("huawei-cloud", "registry-alias")


def test_prc_providers_outside_mainland_china():
    rows = parse().rows["core.cloud_regions"]
    prc = {"alibaba-cloud", "huawei-cloud", "tencent-cloud"}
    outside = sorted((r[0], r[2]) for r in rows if r[-1] in prc and r[5] != "CHN")
    assert outside == [("Alibaba Cloud", "Dubai"), ("Alibaba Cloud", "Hong Kong"), ("Alibaba Cloud", "Riyadh"),
                       ("Huawei Cloud", "Cairo"), ("Huawei Cloud", "Riyadh"), ("Tencent Cloud", "Hong Kong"),
                       ("Tencent Cloud", "Tokyo"), ("Tencent Cloud", "Washington")]  # fmt: skip


def test_strings_are_converted_and_blank_values_are_null():
    metros = [cf.metro("Atlantis City", "Atlantis", "", " ", cf.region("IBM Cloud", "at-1", "Atlantis 1", zones=""))]
    batch = parse(metros)
    (row,) = batch.rows["core.cloud_regions"]
    values = dict(zip(COLUMNS, row, strict=True))
    assert (values["latitude"], values["longitude"], values["zones"], values["country_iso3"]) == (None, None, None, None)
    assert batch.set_aside == []
    assert any("unknown country names" in w and "Atlantis" in w for w in batch.warnings)


@pytest.mark.parametrize(
    ("metro", "message"),
    [
        (cf.metro("Atlantis City", "Atlantis", "not-a-number", "1", cf.region("IBM Cloud", "at-1", "Atlantis 1")),
         "latitude: 'not-a-number' is not a number"),
        (cf.metro("Atlantis City", "Atlantis", "1", "2", cf.region("IBM Cloud", "at-1", "Atlantis 1", zones="many")),
         "zones: 'many' is not a number"),
        (cf.metro("Atlantis City", "Atlantis", "1", "2", {**cf.region("IBM Cloud", "at-1", "Atlantis 1"),
                                                           "in_service": "maybe"}), "in_service: 'maybe' is not true or false"),
        (cf.metro("Atlantis City", "Atlantis", [1], "2", cf.region("IBM Cloud", "at-1", "Atlantis 1")),
         r"latitude: \[1\] is not a number"),
        (cf.metro("Atlantis City", {"name": "Atlantis"}, "1", "2", cf.region("IBM Cloud", "at-1", "Atlantis 1")),
         "country: expected text, got dict"),
        (cf.metro("Atlantis City", "Atlantis", "1", "2", cf.region("I" * 2000, "at-1", "Atlantis 1")),
         "provider name is 2000 bytes long, at most 1000 allowed"),
    ],
)  # fmt: skip
def test_a_value_that_will_not_convert_sets_its_region_aside(metro, message):
    batch = parse([*cf.METROS_V1, metro])
    assert batch.complete and len(rows_by_key(batch)) == cf.V1_KEYS  # the rest loads
    (record,) = batch.set_aside
    assert record.table == "core.cloud_regions" and record.url == URL
    assert record.entity_key[1:] == ("at-1", "Atlantis City")
    assert record.record_key == "|".join(record.entity_key)[:200]  # the key as the change history writes it
    assert re.search(message, record.reason), record.reason
    assert not any("I" * 2000 in org for _, org in batch.rows["core.organisations"])  # no organisation made of it


def test_a_metro_that_cannot_be_read_sets_aside_each_of_its_regions():
    shenzhen = copy.deepcopy(next(m for m in cf.METROS_V1 if m["metro_area"] == "Hong Kong"))
    shenzhen["longitude"] = "east"
    metros = [m for m in cf.METROS_V1 if m["metro_area"] != "Hong Kong"] + [shenzhen]
    batch = parse(metros)
    assert sorted(r.entity_key[0] for r in batch.set_aside) == ["Alibaba Cloud", "Amazon Web Services", "Tencent Cloud"]
    assert all("longitude: 'east' is not a number" in r.reason for r in batch.set_aside)
    assert batch.complete and len(rows_by_key(batch)) == cf.V1_KEYS - 3


@pytest.mark.parametrize(
    ("bad", "record_key", "message"),
    [
        ([1, 2], "metro #11", "expected an object per metro, got list"),
        ({"metro_area": "X", "country": "Y"}, "metro #11", r"missing field\(s\) \['cloud_service_providers'\]"),
        (cf.metro("X", "Japan", "1", "2", {"cloud_region": "x"}), "X region #1", r"missing field\(s\) \['name'\]"),
        (cf.metro("X", "Japan", "1", "2", "Huawei Cloud"), "X region #1", "expected an object per region, got str"),
        ({**cf.metro("X", "Japan", "1", "2"), "cloud_service_providers": {"a": 1}}, "metro #11",
         "cloud_service_providers: expected a list, got dict"),
        (cf.metro(["X"], "Japan", "1", "2"), "metro #11", "metro_area: expected text, got list"),
    ],
)  # fmt: skip
def test_a_record_that_cannot_say_which_region_it_is_holds_back_removals(bad, record_key, message):
    batch = parse([*cf.METROS_V1, bad])
    (record,) = batch.set_aside
    assert (record.record_key, record.entity_key) == (record_key, None)
    assert re.search(message, record.reason), record.reason
    assert len(rows_by_key(batch)) == cf.V1_KEYS
    assert batch.complete is False  # it might be any region: none is marked removed this run


def test_a_region_broken_in_one_copy_of_a_listed_twice_metro_is_set_aside_once():
    metros = copy.deepcopy(cf.METROS_V1)
    metros[3]["cloud_service_providers"][0]["zones"] = "twelve"  # the second Beijing
    metros[0]["cloud_service_providers"][0]["zones"] = "a dozen"  # the first Beijing
    batch = parse(metros)
    (record,) = _first_per_entity(batch.set_aside)  # what the pipeline records: one per entity, the first
    assert record.entity_key == ("Alibaba Cloud", "cn-beijing", "Beijing") and "a dozen" in record.reason


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"name": "Cloud Regions"}, "expected a JSON object with a 'cloud_regions' list"),
        ([], "expected a JSON object with a 'cloud_regions' list"),
        # no metro readable at all: the format changed, whatever one record says
        ({"cloud_regions": [{"metro_area": "X", "country": "Y"}]},
         r"no region could be read .*missing field\(s\) \['cloud_service_providers'\]"),
        ({"cloud_regions": [cf.metro("X", "Japan", "1", "2", {"cloud_region": "x"})]},
         r"no region could be read .*missing field\(s\) \['name'\]"),
        ({"cloud_regions": [1, 2, 3]}, r"no region could be read \(3 set aside, e\.g\. .*expected an object per metro"),
    ],
)
def test_schema_drift_is_a_clear_error(document, message):
    with pytest.raises(SourceFormatError, match=message):
        parse(document=document)


def test_truncated_body_names_the_url():
    body = json.dumps(cf.document()).encode()[:100]
    with pytest.raises(SourceFormatError, match=r"cloud-regions\.js: not valid JSON"):
        cloud_regions.parse([RawPayload(URL, body)])
    with pytest.raises(SourceFormatError, match="run has no"):
        cloud_regions.parse([])


def test_fetch_reads_the_one_file_from_a_replay_directory(tmp_path):
    root = cf.write_replay_dir(tmp_path)
    fetcher = Fetcher(replay_dirs=[root], record_dir=None)
    (response,) = list(cloud_regions.fetch(fetcher))
    assert response.url == URL and fetcher.requests_made == 1
    assert response.replayed_from == str(root / "www.cloudinfrastructuremap.com/api/service/cloud-regions.js")


def test_source_declares_its_contract():
    spec = cloud_regions.SOURCE
    assert spec.name == "cloud_regions" and spec.category == "cloud" and spec.hosts == (cf.HOST,)
    assert spec.tables[0].key == ("provider", "region_code", "metro")
    assert {e.table for e in spec.expectations} == {"core.cloud_regions"}
    assert "TeleGeography" in spec.attribution and spec.views == ("analyst.cloud_regions",)
