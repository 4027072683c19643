"""Replay hand-made Cloud Infrastructure Map files into a real PostgreSQL warehouse."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from dsrwatch import pipeline
from dsrwatch.sources import cloud_regions
from dsrwatch.sources.base import MaxNullFraction, RowCountBounds

from helpers import cloud_fixtures as cf
from helpers.db import query, scalar
from helpers.runs import load_source

pytestmark = pytest.mark.integration

# The registry entries the fixture's providers resolve to (normally loaded by reference_data).
REGISTRY = [
    ("alibaba-group", "Alibaba Group Holding Limited", "PRC", "private", None, "alibaba-group"),
    ("alibaba-cloud", "Alibaba Cloud", "PRC", "private", "alibaba-group", "alibaba-group"),
    ("huawei-technologies", "Huawei Technologies Co., Ltd.", "PRC", "private", None, "huawei-technologies"),
    ("huawei-cloud", "Huawei Cloud Computing Technologies Co., Ltd.", "PRC", "private", "huawei-technologies",
     "huawei-technologies"),
    ("tencent", "Tencent Holdings Limited", "PRC", "private", None, "tencent"),
    ("tencent-cloud", "Tencent Cloud", "PRC", "private", "tencent", "tencent"),
]  # fmt: skip


def seed_registry(url: str) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("""INSERT INTO core.prc_organisations (organisation_id, name, jurisdiction, ownership, parent_id, group_id)
                           VALUES (%s, %s, %s, %s, %s, %s)""", REGISTRY)  # fmt: skip


@pytest.fixture
def replay(replay_into):
    return lambda metros=None, name="v1": replay_into(name, lambda root: cf.write_replay_dir(root, metros))


def load():
    return load_source("cloud_regions")


def test_replay_fills_the_analyst_view(warehouse, replay):
    seed_registry(warehouse)
    replay()
    summary = load()
    assert (summary.status, summary.entities, summary.added, summary.requests, summary.is_baseline) == (
        "succeeded", cf.V1_KEYS, cf.V1_KEYS, 1, True)
    abroad = query(warehouse, """SELECT provider, region_code, metro, country_iso3, prc_jurisdiction, prc_ownership, prc_group
                                   FROM analyst.cloud_regions WHERE is_prc_linked AND outside_mainland_china
                                  ORDER BY provider, metro""")  # fmt: skip
    assert [row[:4] for row in abroad] == [
        ("Alibaba Cloud", "me-east-1", "Dubai", "ARE"), ("Alibaba Cloud", "cn-hongkong", "Hong Kong", "HKG"),
        ("Alibaba Cloud", "me-east-1", "Riyadh", "SAU"), ("Huawei Cloud", None, "Cairo", "EGY"),
        ("Huawei Cloud", "me-east-1", "Riyadh", "SAU"), ("Tencent Cloud", "ap-hongkong", "Hong Kong", "HKG"),
        ("Tencent Cloud", "ap-tokyo", "Tokyo", "JPN"), ("Tencent Cloud", "na-ashburn", "Washington", "USA"),
    ]  # fmt: skip
    assert abroad[0][4:] == ("PRC", "private", "Alibaba Group Holding Limited")
    assert scalar(warehouse, "SELECT count(*) FROM analyst.cloud_regions WHERE is_prc_linked AND NOT outside_mainland_china") == 3
    # the key token of a region without a code stays out of the analyst's region_code, not out of the entity id
    cairo = query(warehouse, "SELECT region_code, risk_entity_id, last_seen_at IS NOT NULL FROM analyst.cloud_regions WHERE metro = 'Cairo'")
    assert cairo == [(None, "Huawei Cloud|name:Huawei Cloud North Africa (Cairo)|Cairo", True)]
    # the run kept its warnings about the source's quirks
    warnings = scalar(warehouse, "SELECT details -> 'warnings' FROM ops.source_runs WHERE run_id = %s", (summary.run_id,))
    assert any("us-ashburn-1" in w for w in warnings) and any("'Beijing'" in w for w in warnings)
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0  # baseline


def test_new_version_records_one_add_one_change_one_removal(warehouse, replay):
    replay()
    load()
    replay(cf.metros_v2(), name="v2")
    summary = load()
    assert (summary.added, summary.modified, summary.removed) == (1, 1, 1)
    changes = query(warehouse, """SELECT entity_key, change, changed_columns FROM core.entity_changes
                                   WHERE entity_table = 'core.cloud_regions' AND run_id = %s ORDER BY 1""",
                    (summary.run_id,))  # fmt: skip
    assert changes == [
        ("Google Cloud|name:Austria|Vienna", "removed", None),
        ("Huawei Cloud|name:Huawei Cloud North Africa (Cairo)|Cairo", "modified", {"zones": [1, 3]}),
        ("Tencent Cloud|me-saudi-arabia|Riyadh", "added", None),
    ]
    vienna = query(warehouse, "SELECT removed_at IS NOT NULL FROM analyst.cloud_regions WHERE metro = 'Vienna'")
    assert vienna == [(True,)]


def test_expectations_catch_a_collapsed_source(warehouse, replay, monkeypatch, enforced):
    replay()
    run_id = pipeline.fetch_to_raw("cloud_regions")
    broken = rf"core.cloud_regions: {cf.V1_KEYS} present rows, expected 200\.\.1500"
    with pytest.raises(pipeline.RunQuarantined, match=broken):
        pipeline.load_from_raw(run_id)
    with pytest.raises(pipeline.ExpectationFailed, match=broken):
        pipeline.check_expectations(run_id)
    assert scalar(warehouse, "SELECT count(*) FROM core.cloud_regions") == 0  # the gate held before the commit
    assert scalar(warehouse, "SELECT count(*) FROM raw.http_responses WHERE run_id = %s", (run_id,)) == 1
    small = dataclasses.replace(cloud_regions.SOURCE, expectations=(
        RowCountBounds("core.cloud_regions", 10, 20), MaxNullFraction("core.cloud_regions", "country_iso3", 0.0)))
    monkeypatch.setattr(cloud_regions, "SOURCE", small)
    run_id = pipeline.fetch_to_raw("cloud_regions")
    pipeline.load_from_raw(run_id)
    assert len(pipeline.check_expectations(run_id)) == 3  # two rules and the set-aside share


def test_risk_contributions(warehouse, replay):
    seed_registry(warehouse)
    replay()
    load()
    entity = query(warehouse, """SELECT entity_name, category, source, countries, project_year, url, is_present
                                   FROM risk.entities__cloud_region WHERE entity_id = 'Alibaba Cloud|me-east-1|Riyadh'""")
    assert entity == [("Alibaba Cloud Middle East 1 (Riyadh) [Riyadh, me-east-1]", "cloud", "cloud_regions", ["SAU"],
                       None, "https://www.cloudinfrastructuremap.com/", True)]  # fmt: skip
    parties = query(warehouse, """SELECT role, organisation_id, party_name FROM risk.parties__cloud_region
                                   WHERE entity_id = 'Tencent Cloud|ap-hongkong|Hong Kong'""")
    assert parties == [("operator", "tencent-cloud", "Tencent Cloud")]
    assert scalar(warehouse, "SELECT count(*) FROM risk.entities__cloud_region") == cf.V1_KEYS
    if scalar(warehouse, "SELECT to_regclass('risk.prc_parties') IS NOT NULL"):
        prc = query(warehouse, """SELECT organisation_id, count(*) FROM risk.prc_parties WHERE entity_kind = 'cloud_region'
                                   GROUP BY 1 ORDER BY 1""")  # fmt: skip
        assert prc == [("alibaba-cloud", 4), ("huawei-cloud", 4), ("tencent-cloud", 3)]
