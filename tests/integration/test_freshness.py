"""Freshness: each source's age against what it declares, in ops/analyst views, `make status`
and the digest footer (with quarantined runs)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from dsrwatch import cli, ledger, pipeline
from dsrwatch.alerts.digest import collect
from dsrwatch.warehouse import connect

from helpers import telegeography as tg
from helpers.db import query
from helpers.runs import load_source

pytestmark = pytest.mark.integration


def freshness(url: str) -> dict[str, dict]:
    with connect(url) as conn:
        return {row["source"]: row for row in ledger.freshness(conn)}


def test_a_source_is_fresh_after_a_load_and_stale_past_twice_its_period(warehouse, replay_into):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    load_source("submarine_cables")
    rows = freshness(warehouse)
    assert set(rows) >= {"submarine_cables", "peeringdb", "aiddata"}  # every declared source
    cables = rows["submarine_cables"]
    assert (cables["is_stale"], cables["max_age"], cables["last_status"]) == (False, timedelta(days=14), "succeeded")
    assert rows["peeringdb"]["is_stale"] and rows["peeringdb"]["last_success_at"] is None  # never loaded
    assert rows["aiddata"]["max_age"] == timedelta(days=62)  # monthly
    with psycopg.connect(warehouse) as conn:  # the last success moves 15 days into the past
        conn.execute("UPDATE ops.source_runs SET fetched_at = fetched_at - interval '15 days'")
    assert freshness(warehouse)["submarine_cables"]["is_stale"]
    with psycopg.connect(warehouse) as conn:
        conn.execute("SET ROLE dsr_analyst")
        assert conn.execute("SELECT is_stale FROM analyst.source_freshness WHERE source = 'submarine_cables'"
                            ).fetchone() == (True,)  # fmt: skip


def test_status_and_digest_footer_name_quarantined_and_stale_sources(warehouse, replay_into, enforced, capsys):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    with pytest.raises(pipeline.RunQuarantined):  # the real bounds: 5 fixture cables are far too few
        load_source("submarine_cables")
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "submarine_cables   QUARANTINED (run 1)" in out
    assert "submarine_cables   STALE never loaded (at most 14 days, 0:00:00); latest run 1 quarantined" in out
    start, end = query(warehouse, "SELECT now() - interval '7 days', now() + interval '1 minute'")[0]
    with connect(warehouse) as conn:
        digest = collect(conn, start, end)
    assert "submarine_cables: latest run quarantined, no data loaded yet" in digest.source_notes
    from dsrwatch.alerts import render
    from dsrwatch.alerts.settings import load_settings

    everyone = load_settings().lists[0]
    assert "Sources to keep in mind" in render.render_text(digest, everyone)
    assert "submarine_cables: latest run quarantined" in render.render_html(digest, everyone)
