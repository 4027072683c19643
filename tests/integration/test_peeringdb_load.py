"""Replay hand-made PeeringDB pages into a real PostgreSQL warehouse: a complete read, an
unchanged incremental rerun, an incremental run with a deleted facility; the data-centre views,
risk contributions and the GOV_DATA_HOSTING pattern."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from dsrwatch import pipeline
from dsrwatch.sources import peeringdb
from dsrwatch.sources.base import ORGANISATION_ALIASES, ORGANISATIONS, MaxNullFraction, RowCountBounds
from dsrwatch.warehouse.loading import EntityTable, merge_rows

from helpers import peeringdb_fixtures as pf
from helpers.db import query, scalar, table_fingerprint
from helpers.runs import load_source

pytestmark = pytest.mark.integration

LIMIT = 3
PATTERN = Path(__file__).resolve().parents[2] / "sql" / "risk_patterns" / "GOV_DATA_HOSTING.sql"

# The registry entries the fixture's operators resolve to (normally loaded by reference_data).
REGISTRY = [
    ("china-mobile", "China Mobile Communications Group Co., Ltd.", "PRC", "state", None, "china-mobile"),
    ("china-mobile-international", "China Mobile International Limited", "Hong Kong", "state", "china-mobile",
     "china-mobile"),
    ("china-unicom", "China United Network Communications Group Co., Ltd.", "PRC", "state", None, "china-unicom"),
    ("gds-holdings", "GDS Holdings Limited", "PRC", "private", None, "gds-holdings"),
    ("citic-group", "CITIC Group Corporation", "PRC", "state", None, "citic-group"),
    ("citic-telecom-international", "CITIC Telecom International Holdings Limited", "Hong Kong", "state",
     "citic-group", "citic-group"),
    ("vnet", "VNET Group, Inc.", "PRC", "state-influenced", None, "vnet"),
]  # fmt: skip

# How a source that records government customers (e.g. deals) declares the shared table.
GOVERNMENT_HOSTING = EntityTable(
    "core.government_hosting",
    key=("source", "entity_kind", "entity_id", "government_body"),
    columns=("body_type", "country_iso3", "evidence_url", "note"),
    scope_column="source",
)


def seed_registry(url: str) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("""INSERT INTO core.prc_organisations (organisation_id, name, jurisdiction, ownership, parent_id, group_id)
                           VALUES (%s, %s, %s, %s, %s, %s)""", REGISTRY)  # fmt: skip


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", LIMIT)
    # The fixture's dates are fixed and the clock is not: no periodic complete read in these tests.
    monkeypatch.setattr(peeringdb, "FULL_REFRESH_DAYS", 100_000)


@pytest.fixture
def replay(replay_into):
    """Write a run's pages (complete, or ``since`` per endpoint) and point DSR_REPLAY_DIR at them."""

    def make(name, facilities, organisations, since=None):
        if since is not None:  # what PeeringDB answers: everything updated at or after since
            facilities = pf.changed_since(facilities, since["fac"])
            organisations = pf.changed_since(organisations, since["org"])
        return replay_into(name, lambda root: pf.write_replay_dir(root, facilities, organisations, LIMIT, since))

    return make


def load():
    return load_source("peeringdb")


def cursor(url: str) -> dict:
    return scalar(url, "SELECT cursor FROM ops.source_cursors WHERE source = 'peeringdb'")


def test_complete_read_then_unchanged_rerun_then_incremental_changes(warehouse, replay):
    seed_registry(warehouse)
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    first = load()
    assert (first.status, first.entities, first.added, first.is_baseline) == ("succeeded", 7, 7, True)
    assert first.requests == 6  # 7 facilities and 8 organisations in pages of 3: 3 + 3
    since = cursor(warehouse)["since"]
    assert since == {"fac": ts(pf.V1_NEWEST["fac"]) - 3600, "org": ts(pf.V1_NEWEST["org"]) - 3600}

    # nothing changed: since= brings back only the overlap window, and the merge writes nothing
    replay("unchanged", pf.FACILITIES_V1, pf.ORGANISATIONS_V1, since=since)
    before = table_fingerprint(warehouse)
    again = load()
    assert (again.added, again.modified, again.removed, again.is_baseline, again.requests) == (0, 0, 0, False, 2)
    assert table_fingerprint(warehouse) == before
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0
    urls = [u for (u,) in query(warehouse, "SELECT url FROM raw.http_responses WHERE run_id = %s", (again.run_id,))]
    assert all(f"since={since[u.split('?')[0].rsplit('/', 1)[1]]}" in u for u in urls)

    # v2: one facility modified, one deleted, one added; one organisation renamed, one added
    changed_facilities, changed_organisations = pf.changes_v2()
    facilities = pf.apply_changes(pf.FACILITIES_V1, changed_facilities)
    organisations = pf.apply_changes(pf.ORGANISATIONS_V1, changed_organisations)
    replay("v2", facilities, organisations, since=cursor(warehouse)["since"])
    third = load()
    assert (third.added, third.modified, third.removed, third.requests) == (1, 1, 1, 4)
    changes = query(warehouse, """SELECT entity_key, change, changed_columns ? 'name' FROM core.entity_changes
                                   WHERE entity_table = 'core.peeringdb_facilities' AND run_id = %s ORDER BY 1""",
                    (third.run_id,))  # fmt: skip
    assert changes == [("104", "modified", True), ("106", "removed", None), ("108", "added", None)]
    rows = query(warehouse, """SELECT facility_id, name, operator_name, is_prc_linked, removed_at IS NOT NULL
                                 FROM analyst.data_centres WHERE facility_id IN (104, 106, 107, 108) ORDER BY 1""")
    assert rows == [
        (104, "Equinix AM7 - Amsterdam Science Park", "Equinix, Inc.", False, False),
        (106, "Equinix SG1 - Singapore", "Equinix, Inc.", False, True),  # kept, marked removed
        (107, "Example DC Nairobi", "Example Hosting Group Ltd", False, False),  # the organisation's new name
        (108, "CITIC Telecom CPC Amsterdam", "CITIC Telecom CPC Netherlands B.V.", True, False),
    ]
    # the organisation table took the rename and the new organisation; nothing else was removed
    assert scalar(warehouse, "SELECT count(*) FROM core.peeringdb_organisations WHERE removed_at IS NULL") == 9
    assert scalar(warehouse, "SELECT count(*) FROM core.peeringdb_facilities WHERE removed_at IS NULL") == 7
    assert cursor(warehouse)["since"]["fac"] == ts("2026-09-05T09:00:00Z") - 3600


def test_views_return_the_prc_linked_data_centres(warehouse, replay):
    seed_registry(warehouse)
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    load()
    prc = query(warehouse, """SELECT facility_id, operator_organisation_id, prc_jurisdiction, prc_ownership, prc_group,
                                     country_iso3, outside_mainland_china
                                FROM analyst.data_centres WHERE is_prc_linked ORDER BY 1""")  # fmt: skip
    assert prc == [
        (101, "china-mobile-international", "Hong Kong", "state", "China Mobile Communications Group Co., Ltd.", "DEU", True),
        (102, "china-unicom", "PRC", "state", "China United Network Communications Group Co., Ltd.", "HKG", True),
        (103, "gds-holdings", "PRC", "private", "GDS Holdings Limited", "CHN", False),
    ]  # fmt: skip
    assert scalar(warehouse, "SELECT count(*) FROM analyst.data_centres WHERE NOT is_prc_linked") == 4
    kosovo = query(warehouse, "SELECT country_iso2, country_iso3, latitude, peeringdb_url FROM analyst.data_centres WHERE facility_id = 105")
    assert kosovo == [("XK", "XKX", None, "https://www.peeringdb.com/fac/105")]
    entity = query(warehouse, """SELECT entity_name, category, source, countries, project_year, url, is_present
                                   FROM risk.entities__data_centre WHERE entity_id = '101'""")
    assert entity == [("China Mobile International - Frankfurt DC", "data_centres", "peeringdb", ["DEU"], 2023,
                       "https://www.peeringdb.com/fac/101", True)]  # fmt: skip
    parties = query(warehouse, "SELECT entity_id, role, organisation_id, party_name FROM risk.parties__data_centre WHERE entity_id IN ('101', '105') ORDER BY 1")
    assert parties == [("101", "operator", "china-mobile-international", "China Mobile International Limited"),
                       ("105", "operator", "kujtesa-net", "Kujtesa Net")]  # fmt: skip


def _merge(url: str, spec: EntityTable, rows: list[tuple], source: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        run_id = conn.execute("INSERT INTO ops.source_runs (source, fetch_mode) VALUES (%s, 'test') RETURNING run_id",
                              (source,)).fetchone()[0]  # fmt: skip
        with conn.transaction():
            merge_rows(conn, spec, rows, run_id=run_id, source=source, previous_seen=None)


def test_an_alias_added_later_takes_effect_without_a_refetch(warehouse, replay):
    seed_registry(warehouse)
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    load()
    assert scalar(warehouse, "SELECT is_prc_linked FROM analyst.data_centres WHERE facility_id = 107") is False
    requests = scalar(warehouse, "SELECT sum(requests) FROM ops.source_runs WHERE source = 'peeringdb'")
    # the registry learns that "Example Hosting Ltd" is a VNET company; reference_data merges the alias
    _merge(warehouse, ORGANISATIONS, [("vnet", "VNET Group, Inc.")], "reference_data")
    _merge(warehouse, ORGANISATION_ALIASES, [("Example Hosting Ltd", "vnet", "registry-alias", 100.0, None)],
           "reference_data")
    row = query(warehouse, """SELECT operator_organisation_id, is_prc_linked, prc_ownership
                                FROM analyst.data_centres WHERE facility_id = 107""")
    assert row == [("vnet", True, "state-influenced")]
    assert scalar(warehouse, "SELECT organisation_id FROM risk.parties__data_centre WHERE entity_id = '107'") == "vnet"
    assert scalar(warehouse, "SELECT sum(requests) FROM ops.source_runs WHERE source = 'peeringdb'") == requests


def test_expectations_catch_a_collapsed_source(warehouse, replay, monkeypatch, enforced):
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    run_id = pipeline.fetch_to_raw("peeringdb")
    with pytest.raises(pipeline.RunQuarantined, match=r"core.peeringdb_facilities: 7 present rows, expected 3000\.\.20000"):
        pipeline.load_from_raw(run_id)
    with pytest.raises(pipeline.ExpectationFailed, match=r"core.peeringdb_facilities: 7 present rows, expected 3000\.\.20000"):
        pipeline.check_expectations(run_id)
    assert scalar(warehouse, "SELECT count(*) FROM core.peeringdb_facilities") == 0
    assert query(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'peeringdb'") == []  # cursor not moved
    small = dataclasses.replace(peeringdb.SOURCE, expectations=(
        RowCountBounds("core.peeringdb_facilities", 5, 50), RowCountBounds("core.peeringdb_organisations", 5, 50),
        MaxNullFraction("core.peeringdb_facilities", "country_iso3", 0.0),
        MaxNullFraction("core.peeringdb_facilities", "latitude", 0.15)))  # fmt: skip
    monkeypatch.setattr(peeringdb, "SOURCE", small)
    assert pipeline.load_from_raw(run_id, accept=True).status == "succeeded"  # an operator accepts the run
    assert len(pipeline.check_expectations(run_id)) == 5  # four rules and the set-aside share


def run_pattern(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(PATTERN.read_text()).fetchall()


def test_gov_data_hosting_pattern(warehouse, replay):
    seed_registry(warehouse)
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    load()
    deals = [
        ("test_deals", "data_centre", "101", "Bundeskriminalamt", "police", "DEU", "https://example.org/bka", None),
        ("test_deals", "data_centre", "103", "Ministry of Finance", "government", "PAK", "https://example.org/mof", None),
        ("test_deals", "data_centre", "103", "Shanghai Municipal Government", "local", "CHN", None, None),  # domestic
        ("test_deals", "data_centre", "104", "Gemeente Amsterdam", "local", "NLD", None, None),  # not PRC-linked
    ]
    _merge(warehouse, GOVERNMENT_HOSTING, deals, "test_deals")
    _merge(warehouse, GOVERNMENT_HOSTING,
           [("other_source", "data_centre", "102", "Hong Kong Police Force", "police", "HKG", None, None)], "other_source")
    matches = {(kind, entity): (severity, evidence) for kind, entity, severity, evidence in run_pattern(warehouse)}
    # 102: the Hong Kong Police Force is a body of PRC territory, domestic like Shanghai's (territory rule)
    assert sorted(matches) == [("data_centre", "101"), ("data_centre", "103")]
    assert [matches[("data_centre", i)][0] for i in ("101", "103")] == ["critical", None]  # None: header's high
    evidence = matches[("data_centre", "101")][1]
    assert evidence["reason"] == ("China Mobile International - Frankfurt DC hosts data of Bundeskriminalamt (police); "
                                  "PRC-linked operator China Mobile International Limited (Hong Kong, state)")  # fmt: skip
    assert evidence["prc_parties"][0]["group_id"] == "china-mobile" and evidence["countries"] == ["DEU"]
    assert [b["government_body"] for b in matches[("data_centre", "103")][1]["government_bodies"]] == ["Ministry of Finance"]

    # a source's complete batch removes only its own rows (scope column), and the flag goes with it
    _merge(warehouse, GOVERNMENT_HOSTING, deals[1:], "test_deals")
    assert query(warehouse, """SELECT source, entity_id FROM core.government_hosting WHERE removed_at IS NOT NULL""") == [
        ("test_deals", "101")]
    assert sorted(entity for _, entity, _, _ in run_pattern(warehouse)) == ["103"]


def test_risk_engine_flags_cloud_regions_and_data_centres(warehouse, replay, tmp_path, monkeypatch):
    """Both sources, the real registry (reference_data) and every shipped pattern, through the engine."""
    from dsrwatch.risk import engine

    from helpers import cloud_fixtures as cf

    pdb_root = replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    cloud_root = cf.write_replay_dir(tmp_path / "cloud")
    monkeypatch.setenv("DSR_REPLAY_DIR", f"{pdb_root}:{cloud_root}")
    for source in ("reference_data", "peeringdb", "cloud_regions"):
        assert load_source(source).status == "succeeded"
    cairo = "Huawei Cloud|name:Huawei Cloud North Africa (Cairo)|Cairo"
    _merge(warehouse, GOVERNMENT_HOSTING, [
        ("test_deals", "cloud_region", cairo, "Ministry of Communications", "government", "EGY", None, None),
        ("test_deals", "data_centre", "101", "Bundeskriminalamt", "police", "DEU", None, None),
    ], "test_deals")  # fmt: skip
    engine.evaluate()
    flags = dict(query(warehouse, """SELECT entity_kind || ' ' || entity_source_id || ' ' || pattern_id, severity
                                       FROM analyst.risk_flags WHERE resolved_at IS NULL"""))  # fmt: skip
    assert flags[f"cloud_region {cairo} GOV_DATA_HOSTING"] == "high"
    assert flags["data_centre 101 GOV_DATA_HOSTING"] == "critical"
    # outside mainland China, Hong Kong included; a region or facility only in mainland China is not "abroad"
    assert "data_centre 101 PRC_OWNER" in flags
    # the territory rule: Hong Kong is PRC territory, so a PRC-owned site there is not "abroad"
    assert "data_centre 102 PRC_OWNER" not in flags
    assert "cloud_region Alibaba Cloud|cn-hongkong|Hong Kong PRC_OWNER" not in flags
    assert "cloud_region Alibaba Cloud|me-east-1|Dubai PRC_OWNER" in flags
    assert "data_centre 103 PRC_OWNER" not in flags and "cloud_region Alibaba Cloud|cn-beijing|Beijing PRC_OWNER" not in flags
    assert not any(key.startswith(("data_centre 104 ", "cloud_region Google Cloud")) for key in flags)


def test_a_cursor_stuck_in_year_9999_is_repaired_by_a_complete_read(warehouse, replay, caplog):
    """Before stamps were checked, one facility ``updated`` in 9999 became the cursor: every since=
    read came back empty and the 28-day complete read never came. Such a cursor forces one now."""
    replay("complete", pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    load()
    year_9999 = ts("9999-12-31T00:00:00Z")
    with psycopg.connect(warehouse) as conn:
        conn.execute("UPDATE ops.source_cursors SET cursor = %s WHERE source = 'peeringdb'",
                     (psycopg.types.json.Jsonb({"since": {"fac": year_9999, "org": year_9999},
                                                "full_refresh_at": year_9999}),))  # fmt: skip
    changed_facilities, changed_organisations = pf.changes_v2()
    facilities = pf.apply_changes(pf.FACILITIES_V1, changed_facilities)
    organisations = pf.apply_changes(pf.ORGANISATIONS_V1, changed_organisations)
    stuck = {**facilities[0], "updated": "9999-12-31T00:00:00Z"}  # the record that did it, still there
    replay("repair", [stuck, *facilities[1:]], organisations)  # complete pages only: a since= read would fail
    summary = load()
    assert summary.status == "succeeded" and "since" not in "".join(
        u for (u,) in query(warehouse, "SELECT url FROM raw.http_responses WHERE run_id = %s", (summary.run_id,)))
    assert "the stored cursor looks wrong (since of /api/org is 9999-12-31 00:00 UTC, ahead of now" in caplog.text
    assert cursor(warehouse) == {"since": {"fac": ts("2026-09-05T09:00:00Z") - 3600,
                                           "org": ts("2026-09-05T06:30:00Z") - 3600},
                                 "full_refresh_at": ts("2026-09-05T09:00:00Z")}  # fmt: skip
    assert query(warehouse, "SELECT record_key, field FROM analyst.quarantined_records WHERE run_id = %s",
                 (summary.run_id,)) == [("101", "updated")]  # fmt: skip
