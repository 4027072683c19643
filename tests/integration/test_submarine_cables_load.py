"""Replay hand-made TeleGeography directories into a real PostgreSQL warehouse."""

import pytest

from dsrwatch import pipeline
from dsrwatch.fetching import ReplayFileMissing
from dsrwatch.sources import submarine_cables

from helpers import telegeography as tg
from helpers.db import query, scalar, table_fingerprint
from helpers.runs import load_source

pytestmark = pytest.mark.integration


@pytest.fixture
def replay(replay_into):
    """Write a replay dir for the given cables and point DSR_REPLAY_DIR at it."""
    return lambda cables=None, name="v1": replay_into(name, lambda root: tg.write_replay_dir(root, cables))


def load():
    return load_source("submarine_cables")


def test_replay_fills_the_analyst_views(warehouse, replay):
    replay()
    summary = load()
    assert (summary.status, summary.entities, summary.added, summary.is_baseline) == ("succeeded", 5, 5, True)
    peace = query(warehouse, """SELECT name, owners, suppliers, landing_countries, length_km, removed_at
                                  FROM analyst.submarine_cables WHERE source_id = 'peace-cable'""")
    # names are the registry's canonical ones: "HMN Tech" in the source is HMN Technologies
    assert peace == [("PEACE Cable", ["PEACE Cable International Network Co., Ltd."], ["HMN Technologies Co., Ltd."],
                      ["FRA", "KEN", "PAK"], 21500, None)]
    sail_owners = scalar(warehouse, "SELECT owners FROM analyst.submarine_cables WHERE source_id = 'south-atlantic-inter-link-sail'")
    assert sail_owners == ["Camtel", "China United Network Communications Group Co., Ltd."]
    # every landing point has coordinates, including one only the geo file knows
    assert scalar(warehouse, "SELECT count(*) FROM analyst.landing_points WHERE latitude IS NULL") == 0
    assert scalar(warehouse, "SELECT country_iso3 FROM analyst.landing_points WHERE source_id = 'hainan-china'") == "CHN"
    hmn = query(warehouse, "SELECT aliases FROM analyst.organisations WHERE organisation_id = 'hmn-technologies'")
    assert hmn and "HMN Tech" in hmn[0][0]
    # provenance: every payload is in raw with its sha256 and replay path
    assert scalar(warehouse, "SELECT count(*) FROM raw.http_responses WHERE replayed_from IS NOT NULL") == 7
    # the baseline writes no per-entity history: every row's first_seen_at and the run's is_baseline say it
    assert scalar(warehouse, "SELECT count(*) FROM core.entity_changes") == 0
    assert scalar(warehouse, "SELECT count(DISTINCT first_seen_at) FROM core.submarine_cables") == 1
    # last_seen_at for present rows is the latest fetch
    assert scalar(warehouse, "SELECT count(*) FROM analyst.submarine_cables WHERE last_seen_at IS NULL") == 0


def test_new_version_records_exactly_one_add_one_change_one_removal(warehouse, replay):
    replay()
    load()
    replay(tg.cables_v2(), name="v2")
    summary = load()
    assert (summary.added, summary.modified, summary.removed) == (1, 1, 1)
    changes = query(warehouse, """SELECT entity_key, change, changed_columns FROM core.entity_changes
                                   WHERE entity_table = 'core.submarine_cables' AND run_id = %s ORDER BY 1""",
                    (summary.run_id,))
    assert [(k, c) for k, c, _ in changes] == [("2africa", "added"), ("dunant", "removed"), ("equiano", "modified")]
    assert changes[2][2] == {"length_km": [None, 15000], "is_planned": [True, False]}
    dunant = query(warehouse, "SELECT removed_at IS NOT NULL, last_seen_at < removed_at FROM analyst.submarine_cables WHERE source_id = 'dunant'")
    assert dunant == [(True, True)]  # kept, marked removed, never deleted
    # the removed cable's parties and links leave with it
    assert scalar(warehouse, "SELECT count(*) FROM core.cable_parties WHERE cable_id = 'dunant' AND removed_at IS NULL") == 0
    # a change to a cable's parts (a new owner) counts the cable as changed
    owner_added = tg.cables_v2()
    owner_added["peace-cable"]["owners"] += ", China Telecom"
    replay(owner_added, name="v2b")
    parts = load()
    assert (parts.added, parts.modified, parts.removed) == (0, 1, 0)
    # and a cable that comes back is restored, not duplicated
    replay(tg.CABLES_V1, name="v3")
    back = load()
    # dunant back; equiano reverted and PEACE without China Telecom again; 2africa gone
    assert (back.added, back.modified, back.removed) == (1, 2, 1)
    assert scalar(warehouse, "SELECT count(*) FROM core.submarine_cables") == 6
    assert scalar(warehouse, "SELECT change FROM core.entity_changes WHERE entity_key = 'dunant' ORDER BY change_id DESC LIMIT 1") == "restored"


def test_a_truncated_cable_file_is_set_aside_and_the_rest_loads(warehouse, replay):
    root = replay()
    load()
    equiano_before = query(warehouse, "SELECT * FROM core.submarine_cables WHERE source_id = 'equiano'")
    replay(tg.cables_v2(), name="bad")
    cable_file = tmp = root.parent / "bad" / tg.API / "cable" / "equiano.json"
    tmp.write_text(cable_file.read_text()[:60])
    summary = load()
    # v2's other changes load: 2africa added, dunant removed; equiano (modified in v2) keeps v1
    assert (summary.status, summary.added, summary.removed, summary.modified) == ("succeeded", 1, 1, 0)
    assert query(warehouse, "SELECT * FROM core.submarine_cables WHERE source_id = 'equiano'") == equiano_before
    [(key, reason)] = query(warehouse, "SELECT record_key, reason FROM analyst.quarantined_records")
    assert key == "equiano" and "equiano.json: not valid JSON" in reason
    # the bad payload itself is kept in raw for inspection
    kept = scalar(warehouse, """SELECT length(b.body) FROM raw.http_responses r JOIN raw.bodies b USING (sha256)
                                 WHERE r.url LIKE '%%/equiano.json' ORDER BY r.response_id DESC LIMIT 1""")
    assert kept == 60


def test_missing_cable_file_fails_the_fetch_with_url_and_path(warehouse, replay):
    replay()
    load()
    before = table_fingerprint(warehouse)
    root = replay(tg.cables_v2(), name="missing")
    (root / tg.API / "cable" / "2africa.json").unlink()
    with pytest.raises(ReplayFileMissing, match=r"cable/2africa\.json.*looked for: .*missing/www\.submarinecablemap"):
        load()
    assert table_fingerprint(warehouse) == before
    assert query(warehouse, "SELECT status FROM ops.source_runs ORDER BY run_id DESC LIMIT 1") == [("failed",)]


def test_source_without_replay_recordings_is_skipped(warehouse, tmp_path, monkeypatch):
    (tmp_path / "elsewhere.example.org").mkdir()
    monkeypatch.setenv("DSR_REPLAY_DIR", str(tmp_path))
    summary = load()
    assert summary.status == "skipped" and "www.submarinecablemap.com" in summary.error
    assert "skipped" in summary.line()


def test_expectations_catch_a_collapsed_source(warehouse, replay, enforced):
    replay()
    run_id = pipeline.fetch_to_raw("submarine_cables")
    # five cables is far below the real map's lower bound of 400
    with pytest.raises(pipeline.RunQuarantined, match=r"core.submarine_cables: 5 present rows, expected 400\.\.2000"):
        pipeline.load_from_raw(run_id)
    with pytest.raises(pipeline.ExpectationFailed, match=r"core.submarine_cables: 5 present rows, expected 400\.\.2000"):
        pipeline.check_expectations(run_id)
    assert scalar(warehouse, "SELECT count(*) FROM core.submarine_cables") == 0
    details = scalar(warehouse, "SELECT details -> 'expectations' FROM ops.source_runs WHERE run_id = %s", (run_id,))
    assert details["failed"] and details["passed"]


def test_views_and_columns_are_documented(warehouse):
    undocumented = query(warehouse, """
        SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c
          JOIN pg_class t ON t.relname = c.table_name
          JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema
         WHERE c.table_schema = 'analyst' AND col_description(t.oid, c.ordinal_position) IS NULL""")
    assert undocumented == []
    views_without_comment = query(warehouse, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'analyst' AND c.relkind = 'v' AND obj_description(c.oid) IS NULL""")
    assert views_without_comment == []


def test_source_module_declares_its_contract():
    spec = submarine_cables.SOURCE
    assert spec.hosts == ("www.submarinecablemap.com",) and "CC BY-NC-SA" in spec.licence
    assert spec.tables[0].table == "core.submarine_cables" and spec.expectations


def test_duplicate_keys_in_a_batch_are_a_clear_error(warehouse):
    import psycopg

    from dsrwatch.warehouse.loading import DuplicateKeyError, merge_rows

    with psycopg.connect(warehouse, autocommit=True) as conn:
        run_id = conn.execute("INSERT INTO ops.source_runs (source, fetch_mode) VALUES ('t', 'test') RETURNING run_id").fetchone()[0]
        rows = [("a", "A", None, None, None, None, None, None), ("a", "A2", None, None, None, None, None, None)]
        # empty table: the COPY fast path's primary key catches it
        with pytest.raises(DuplicateKeyError, match=r"core.submarine_cables: .*more than once.*\(source_id\)=\(a\)"):
            with conn.transaction():
                merge_rows(conn, submarine_cables.CABLES, rows, run_id=run_id, source="t", previous_seen=None)
        assert scalar(warehouse, "SELECT count(*) FROM core.submarine_cables") == 0
        # non-empty table: the merge's ON CONFLICT catches it
        with conn.transaction():
            merge_rows(conn, submarine_cables.CABLES, rows[:1], run_id=run_id, source="t", previous_seen=None)
        with pytest.raises(DuplicateKeyError, match=r"more than once.*\('a', 2\)"):
            with conn.transaction():
                merge_rows(conn, submarine_cables.CABLES, rows, run_id=run_id, source="t", previous_seen=None)
    assert scalar(warehouse, "SELECT name FROM core.submarine_cables") == "A"


def test_analysts_read_the_change_history_and_runs(warehouse, replay):
    replay()
    load()
    replay(tg.cables_v2(), name="v2")
    load()
    import psycopg

    with psycopg.connect(warehouse) as conn:
        conn.execute("SET ROLE dsr_analyst")
        changes = conn.execute("""SELECT entity_key, change FROM analyst.change_history
                                   WHERE entity_table = 'core.submarine_cables' ORDER BY 1""").fetchall()
        runs = conn.execute("SELECT source, status, added, is_baseline FROM analyst.source_runs ORDER BY run_id").fetchall()
    assert changes == [("2africa", "added"), ("dunant", "removed"), ("equiano", "modified")]
    assert runs == [("submarine_cables", "succeeded", 5, True), ("submarine_cables", "succeeded", 1, False)]
