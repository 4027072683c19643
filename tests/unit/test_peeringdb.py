"""PeeringDB source (plugins/dsrwatch/sources/peeringdb.py): parser on hand-made pages, and the
fetch against a real local HTTP server (pagination, since=, 429 with Retry-After, the API key).

Waits go through an injected ``sleep`` that only records, so nothing actually waits.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsrwatch.fetching import Fetcher
from dsrwatch.sources import peeringdb
from dsrwatch.sources.base import NotAfterFetch, Range, SourceFormatError
from dsrwatch.warehouse.raw import RawPayload

from helpers import peeringdb_fixtures as pf
from helpers.http_server import Answer

FAC_COLUMNS = peeringdb.FACILITIES.all_columns
ORG_COLUMNS = peeringdb.PEERINGDB_ORGANISATIONS.all_columns
LIMIT = 3
ROOT = Path(__file__).resolve().parents[2]


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def payloads(facilities, organisations, since: dict[str, int] | None = None, limit: int = LIMIT) -> list[RawPayload]:
    """The raw payloads a run would store, in fetch order (organisations first)."""
    since = since or {}
    out = []
    for endpoint, records in (("org", organisations), ("fac", facilities)):
        for index, chunk in enumerate(pf.pages(records, limit)):
            out.append(RawPayload(pf.page_url(endpoint, since.get(endpoint), index * limit, limit), pf.page_body(chunk)))
    return out


def facility_rows(batch) -> dict[int, dict]:
    return {row[0]: dict(zip(FAC_COLUMNS, row, strict=True)) for row in batch.rows["core.peeringdb_facilities"]}


# -- parse: complete read ---------------------------------------------------------------------------
def test_complete_read_keeps_every_facility_and_organisation():
    batch = peeringdb.parse(payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1))
    assert batch.complete and batch.deleted_keys == {}
    facilities = facility_rows(batch)
    assert sorted(facilities) == [101, 102, 103, 104, 105, 106, 107] and batch.entities == 7
    assert facilities[101] == {
        "facility_id": 101, "org_id": 2001, "org_name": "China Mobile International Limited",
        "name": "China Mobile International - Frankfurt DC", "city": "Frankfurt", "country_iso2": "DE",
        "country_iso3": "DEU", "latitude": 50.1109, "longitude": 8.6821,
        "created": datetime(2023, 3, 1, 8, 0, tzinfo=UTC), "updated": datetime(2026, 8, 12, 2, 45, 47, tzinfo=UTC),
        "status": "ok", "operator_organisation_id": "china-mobile-international",
    }  # fmt: skip
    assert len(batch.rows["core.peeringdb_organisations"]) == 8
    organisation = dict(zip(ORG_COLUMNS, batch.rows["core.peeringdb_organisations"][1], strict=True))
    assert (organisation["org_id"], organisation["name"], organisation["aka"], organisation["country_iso3"]) == (
        2002, "China Unicom", "China Unicom", "CHN")


def test_country_codes_and_missing_coordinates():
    facilities = facility_rows(peeringdb.parse(payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1)))
    assert (facilities[105]["country_iso2"], facilities[105]["country_iso3"]) == ("XK", "XKX")  # Kosovo
    assert (facilities[105]["latitude"], facilities[105]["longitude"]) == (None, None)
    assert facilities[102]["country_iso3"] == "HKG"
    organisations = {r[0]: r for r in peeringdb.parse(payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1)).rows[
        "core.peeringdb_organisations"]}  # fmt: skip
    assert organisations[2001][6:8] == (None, None)  # empty country -> NULL, not ''


def test_operators_and_registry_organisations_are_resolved_not_every_network():
    batch = peeringdb.parse(payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1))
    aliases = {a[0]: a[1] for a in batch.rows["core.organisation_aliases"]}
    assert aliases["China Mobile International Limited"] == "china-mobile-international"
    assert aliases["China Unicom"] == "china-unicom"
    assert aliases["GDS Services Ltd"] == "gds-holdings"
    assert aliases["Equinix, Inc."] == "equinix"
    assert aliases["China Telecom Americas"] == "china-telecom-americas"  # a network, but a registry name
    assert "Example Transit Networks" not in aliases  # a network without a facility
    assert len(aliases) == 7


def test_cursor_is_the_newest_update_minus_the_overlap():
    batch = peeringdb.parse(payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1))
    overlap = peeringdb.SINCE_OVERLAP_SECONDS
    assert batch.cursor == {"since": {"fac": ts(pf.V1_NEWEST["fac"]) - overlap, "org": ts(pf.V1_NEWEST["org"]) - overlap},
                            "full_refresh_at": ts(pf.V1_NEWEST["fac"])}  # fmt: skip


# -- parse: incremental read ------------------------------------------------------------------------
def test_incremental_read_lists_deleted_facilities_apart_from_rows():
    changed_facilities, changed_organisations = pf.changes_v2()
    cursor = {"since": {"fac": 1_788_000_000, "org": 1_788_000_000}, "full_refresh_at": 1_788_003_600}
    batch = peeringdb.parse(payloads(changed_facilities, changed_organisations, since=cursor["since"]), cursor)
    assert not batch.complete
    assert batch.deleted_keys == {"core.peeringdb_facilities": [(106,)], "core.peeringdb_organisations": []}
    assert sorted(facility_rows(batch)) == [104, 108]  # the deleted one is not also a row
    assert batch.entities == 3
    # the same names as a complete read would record: operators in the batch and registry names
    aliases = {a[0]: a[1] for a in batch.rows["core.organisation_aliases"]}
    assert aliases == {"CITIC Telecom CPC Netherlands B.V.": "citic-telecom-international", "Equinix, Inc.": "equinix"}
    # the cursor moves to the newest change minus the overlap; full_refresh_at is carried over
    assert batch.cursor == {"since": {"fac": ts("2026-09-05T09:00:00Z") - 3600, "org": ts("2026-09-05T06:30:00Z") - 3600},
                            "full_refresh_at": 1_788_003_600}  # fmt: skip


def test_incremental_cursor_never_moves_back():
    cursor = {"since": {"fac": 1_900_000_000, "org": 1_900_000_000}, "full_refresh_at": 1_900_000_000}
    now = datetime.fromtimestamp(1_900_086_400, UTC)  # a day after the cursor
    old = [pf.fac(1, 9, "Old Org", "Old DC", "Paris", "FR", None, None, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")]
    batch = peeringdb.parse(payloads(old, [], since=cursor["since"]), cursor, now=now)
    assert batch.cursor == cursor
    # nothing came back at all: the same cursor again, noting since when reads have been empty
    empty = peeringdb.parse(payloads([], [], since=cursor["since"]), cursor, now=now)
    assert empty.cursor == {**cursor, "empty_since": 1_900_086_400} and empty.rows["core.peeringdb_facilities"] == []


def test_records_neither_ok_nor_deleted_count_as_removed_with_a_warning():
    pending = pf.fac(120, 2004, "Equinix, Inc.", "Equinix XX1", "Paris", "FR", None, None,
                     "2026-09-05T00:00:00Z", "2026-09-05T00:00:00Z", status="pending")  # fmt: skip
    since = {"fac": 1, "org": 1}
    batch = peeringdb.parse(payloads([pending], [], since=since), {"since": since, "full_refresh_at": 1})
    assert batch.deleted_keys["core.peeringdb_facilities"] == [(120,)]
    assert any("neither 'ok' nor 'deleted'" in w and "pending" in w for w in batch.warnings)


def test_a_record_seen_twice_keeps_its_latest_version():
    first = pf.FACILITIES_V1[0]
    newer = {**first, "name": "Renamed", "updated": "2026-10-01T00:00:00Z"}
    pages = [RawPayload(pf.page_url("fac", None, 0, 2), pf.page_body([newer, pf.FACILITIES_V1[1]])),
             RawPayload(pf.page_url("fac", None, 2, 2), pf.page_body([first])),
             RawPayload(pf.page_url("org", None, 0, 2), pf.page_body([]))]  # fmt: skip
    batch = peeringdb.parse(pages)
    assert facility_rows(batch)[101]["name"] == "Renamed"
    assert any("came twice with different content" in w for w in batch.warnings)


# -- parse: broken runs -----------------------------------------------------------------------------
def test_a_missing_page_is_an_error():
    run = payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1)
    with pytest.raises(SourceFormatError, match=r"expected a page at skip=3"):
        peeringdb.parse([p for p in run if "fac?depth=0&limit=3&skip=3" not in p.url])
    with pytest.raises(SourceFormatError, match=r"is not the last page|is the last page"):
        peeringdb.parse([p for p in run if "fac?depth=0&limit=3&skip=6" not in p.url])
    with pytest.raises(SourceFormatError, match=r"run has no /api/org page"):
        peeringdb.parse([p for p in run if "/api/org" not in p.url])


def test_mixing_complete_and_incremental_pages_is_an_error():
    incremental = [p for p in payloads(pf.FACILITIES_V1, [], since={"fac": 5}) if "/api/fac" in p.url]
    complete = [p for p in payloads([], pf.ORGANISATIONS_V1) if "/api/org" in p.url]
    run = complete + incremental
    with pytest.raises(SourceFormatError, match="mixes complete and incremental"):
        peeringdb.parse(run)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"data": [{"id": 1}]', "not valid JSON"), (b'{"error": "x"}', "with a 'data' list"),
     (b"<html><body>502 Bad Gateway</body></html>", "not valid JSON"), (b"", "not valid JSON"),
     (b'[{"id": 1}]', "with a 'data' list"), (b'{"data": {"id": 1}}', "with a 'data' list")],
)  # fmt: skip
def test_an_unreadable_page_names_it(body, message):
    url = "https://www.peeringdb.com/api/fac?depth=0"
    with pytest.raises(SourceFormatError, match=message) as raised:
        peeringdb.records(body, url)
    assert url in str(raised.value)
    run = [p for p in payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1) if "/api/fac" not in p.url]
    with pytest.raises(SourceFormatError, match=message):  # the whole run fails
        peeringdb.parse([*run, RawPayload(pf.page_url("fac", None, 0, LIMIT), body)])


def test_a_record_missing_a_field_is_set_aside_and_the_rest_loads():
    # It used to fail the whole run ("missing field(s) ['updated']"); now the record alone is kept out.
    broken = {k: v for k, v in pf.FACILITIES_V1[0].items() if k != "updated"}
    batch = peeringdb.parse(payloads([broken, *pf.FACILITIES_V1[1:]], pf.ORGANISATIONS_V1))
    assert sorted(facility_rows(batch)) == [102, 103, 104, 105, 106, 107]
    (record,) = batch.set_aside
    assert (record.table, record.record_key, record.entity_key) == ("core.peeringdb_facilities", "101", (101,))
    assert re.search(r"unreadable record: SourceFormatError: .*/api/fac\?depth=0&limit=3&skip=0: record is missing "
                     r"field\(s\) \['updated'\]", record.reason)  # fmt: skip
    assert record.url == pf.page_url("fac", None, 0, LIMIT)


def _edit(record: dict, **changes) -> dict:
    return {**record, **changes}


FAC = pf.FACILITIES_V1[0]  # facility 101


@pytest.mark.parametrize(
    ("broken", "key", "reason"),
    [([1, 2, 3], "/api/fac #0", r"expected an object per record, got list"),
     ("facility", "/api/fac #0", r"expected an object per record, got str"),
     (_edit(FAC, id="one-oh-one"), "one-oh-one", r"id is 'one-oh-one', expected an integer"),
     (_edit(FAC, id=None), "/api/fac #0", r"record id None is not an integer"),
     (_edit(FAC, name={"en": "Frankfurt"}), "101", r"TypeError: name is .*expected text"),
     (_edit(FAC, latitude="east"), "101", r"ValueError: latitude is 'east', expected a number"),
     (_edit(FAC, latitude=[50.1]), "101", r"TypeError: latitude is .*expected a number"),
     (_edit(FAC, org_id="2001x"), "101", r"org_id is '2001x', expected an integer"),
     (_edit(FAC, updated="last Tuesday"), "101", r"updated is 'last Tuesday', expected an ISO 8601 timestamp"),
     (_edit(FAC, created=20230301), "101", r"TypeError: created is 20230301, expected an ISO 8601 timestamp"),
     (_edit(FAC, status=["ok"]), "101", r"TypeError: status is .*expected text"),
     # an operator's name becomes an organisation's key: refused once, here, not once per table it reaches
     (_edit(FAC, org_name="China\x00Mobile"), "101", r"ValueError: org_name 'China\\x00Mobile' contains a NUL byte"),
     (_edit(FAC, org_name="C" * 10_000), "101", r"org_name is 10000 bytes long, at most 1000 allowed")],
)  # fmt: skip
def test_an_unreadable_facility_is_set_aside_with_the_reason(broken, key, reason):
    batch = peeringdb.parse(payloads([broken, *pf.FACILITIES_V1[1:]], pf.ORGANISATIONS_V1))
    (record,) = batch.set_aside
    assert record.record_key == key and record.field is None and record.table == "core.peeringdb_facilities"
    assert re.search(reason, record.reason), record.reason
    assert record.reason.startswith("unreadable record: ")
    assert 102 in facility_rows(batch) and len(facility_rows(batch)) == 6  # the rest loads


def test_an_unreadable_organisation_is_set_aside_without_naming_a_facility():
    broken = _edit(pf.ORGANISATIONS_V1[0], name=["China Mobile"])
    batch = peeringdb.parse(payloads(pf.FACILITIES_V1, [broken, *pf.ORGANISATIONS_V1[1:]]))
    (record,) = batch.set_aside
    assert (record.table, record.record_key, record.entity_key) == ("core.peeringdb_organisations", "2001", None)
    assert len(batch.rows["core.peeringdb_organisations"]) == 7 and len(facility_rows(batch)) == 7


def test_a_complete_read_with_a_record_that_cannot_be_kept_removes_nothing_for_being_absent():
    # a facility set aside under its id is kept by validation: the read stays complete
    kept = peeringdb.parse(payloads([_edit(FAC, latitude="east"), *pf.FACILITIES_V1[1:]], pf.ORGANISATIONS_V1))
    assert kept.complete
    # an organisation, or a facility without a readable id, could be any absent row
    for facilities, organisations in [([_edit(FAC, id="x"), *pf.FACILITIES_V1[1:]], pf.ORGANISATIONS_V1),
                                      (pf.FACILITIES_V1, [_edit(pf.ORGANISATIONS_V1[0], name=[1]),
                                                          *pf.ORGANISATIONS_V1[1:]])]:  # fmt: skip
        batch = peeringdb.parse(payloads(facilities, organisations))
        assert not batch.complete
        assert batch.deleted_keys == {"core.peeringdb_facilities": [], "core.peeringdb_organisations": []}
        assert any("nothing is marked removed for being absent this time" in w for w in batch.warnings)
        # the fetch was complete all the same: the cursor starts afresh, full_refresh_at moves on
        assert batch.cursor["full_refresh_at"] == ts(pf.V1_NEWEST["fac"])


def test_nan_and_out_of_range_coordinates_reach_the_declared_rules():
    """The parser passes NaN and 999 on; validation rejects them naming the field (see tests/hostile)."""
    body = pf.page_body([_edit(FAC, latitude=999), *pf.FACILITIES_V1[1:3]]).replace(b"999", b"NaN")
    run = [p for p in payloads(pf.FACILITIES_V1, pf.ORGANISATIONS_V1) if "/api/fac" not in p.url or "skip=0" not in p.url]
    batch = peeringdb.parse([*run, RawPayload(pf.page_url("fac", None, 0, LIMIT), body)])
    assert math.isnan(facility_rows(batch)[101]["latitude"]) and batch.set_aside == []
    rules = peeringdb.FACILITIES.rules
    assert Range("latitude", -90, 90) in rules and Range("longitude", -180, 180) in rules
    assert {r.column for r in rules if isinstance(r, NotAfterFetch)} == {"created", "updated"}
    assert {r.column for r in peeringdb.PEERINGDB_ORGANISATIONS.rules} == {"created", "updated"}


def test_the_same_id_twice_with_the_same_updated_but_different_content_is_set_aside():
    twin = _edit(FAC, name="China Mobile International - Frankfurt DC 2")
    pages = [RawPayload(pf.page_url("fac", None, 0, 2), pf.page_body([FAC, pf.FACILITIES_V1[1]])),
             RawPayload(pf.page_url("fac", None, 2, 2), pf.page_body([twin])),
             RawPayload(pf.page_url("org", None, 0, 2), pf.page_body([]))]  # fmt: skip
    batch = peeringdb.parse(pages)
    (record,) = batch.set_aside
    assert (record.record_key, record.entity_key) == ("101", (101,))
    assert record.reason.startswith("the source lists this key twice with different values")
    assert sorted(facility_rows(batch)) == [102]
    # the very same record twice is one record
    same = [RawPayload(pf.page_url("fac", None, 0, 2), pf.page_body([FAC, pf.FACILITIES_V1[1]])),
            RawPayload(pf.page_url("fac", None, 2, 2), pf.page_body([FAC])), pages[2]]  # fmt: skip
    assert sorted(facility_rows(peeringdb.parse(same))) == [101, 102] and peeringdb.parse(same).set_aside == []


# -- trusted cursors ------------------------------------------------------------------------------
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_future_updated_is_set_aside_and_never_becomes_the_cursor():
    future = _edit(pf.FACILITIES_V1[3], updated="9999-12-31T00:00:00Z")  # facility 104
    batch = peeringdb.parse(payloads([*pf.FACILITIES_V1[:3], future, *pf.FACILITIES_V1[4:]], pf.ORGANISATIONS_V1),
                            now=NOW)  # fmt: skip
    (record,) = batch.set_aside
    assert (record.record_key, record.field, record.entity_key) == ("104", "updated", (104,))
    assert record.value == "9999-12-31T00:00:00Z" and record.reason == "in the future (after 2026-12-02 12:00 UTC)"
    assert 104 not in facility_rows(batch)
    assert batch.cursor == {"since": {"fac": ts(pf.V1_NEWEST["fac"]) - 3600, "org": ts(pf.V1_NEWEST["org"]) - 3600},
                            "full_refresh_at": ts(pf.V1_NEWEST["fac"])}  # fmt: skip
    # within the margin (a clock a day ahead) it is trusted, and the cursor follows it
    ahead = _edit(future, updated="2026-12-01T12:00:00Z")
    batch = peeringdb.parse(payloads([*pf.FACILITIES_V1[:3], ahead, *pf.FACILITIES_V1[4:]], pf.ORGANISATIONS_V1),
                            now=NOW)  # fmt: skip
    assert batch.set_aside == [] and batch.cursor["since"]["fac"] == ts("2026-12-01T12:00:00Z") - 3600
    assert batch.cursor["full_refresh_at"] == int(NOW.timestamp())  # never after now


def test_stamps_are_judged_against_the_fetch_time_of_the_pages():
    """An operator may accept a quarantined run days after its fetch: a record updated after the
    pages were fetched is still in the future for that run, whatever today's date."""
    fetched = datetime(2026, 9, 1, 10, tzinfo=UTC)
    later = _edit(pf.FACILITIES_V1[3], updated="2026-09-20T00:00:00Z")  # after the fetch + 2 days
    pages = [dataclasses.replace(p, fetched_at=fetched)
             for p in payloads([*pf.FACILITIES_V1[:3], later, *pf.FACILITIES_V1[4:]], pf.ORGANISATIONS_V1)]  # fmt: skip
    (record,) = peeringdb.parse(pages).set_aside
    assert (record.record_key, record.reason) == ("104", "in the future (after 2026-09-03 10:00 UTC)")


def test_a_deleted_record_dated_in_the_future_is_not_a_deletion():
    since = {"fac": ts("2026-09-01T00:00:00Z"), "org": ts("2026-09-01T00:00:00Z")}
    cursor = {"since": since, "full_refresh_at": ts("2026-09-01T00:00:00Z")}
    gone = _edit(pf.FACILITIES_V1[0], status="deleted", updated="3000-01-01T00:00:00Z")
    batch = peeringdb.parse(payloads([gone, pf.FACILITIES_V1[1]], [], since=since), cursor, now=NOW)
    assert batch.deleted_keys["core.peeringdb_facilities"] == []
    assert [r.record_key for r in batch.set_aside] == ["101"]
    assert batch.cursor["since"]["fac"] == ts(pf.FACILITIES_V1[1]["updated"]) - 3600


def test_a_previous_cursor_ahead_of_now_is_dropped_not_kept():
    since = {"fac": ts("2026-09-01T00:00:00Z"), "org": ts("2026-09-01T00:00:00Z")}
    bad = {"since": {"fac": 253_402_214_400, "org": since["org"]}, "full_refresh_at": 253_402_214_400}
    batch = peeringdb.parse(payloads([pf.FACILITIES_V1[1]], [], since=since), bad, now=NOW)
    assert batch.cursor == {"since": {"fac": ts(pf.FACILITIES_V1[1]["updated"]) - 3600, "org": since["org"]},
                            "full_refresh_at": None}  # fmt: skip
    assert peeringdb.fetch_plan(batch.cursor, NOW.timestamp()) == {"org": None, "fac": None}  # a complete read next


def test_the_cursor_never_moves_past_now_plus_the_margin():
    stamps = {"fac": datetime(2026, 12, 2, 11, 0, tzinfo=UTC), "org": None}
    cursor = peeringdb.next_cursor(None, stamps, True, NOW)
    assert cursor["since"]["fac"] <= int((NOW + peeringdb.CLOCK_MARGIN).timestamp())
    assert cursor["full_refresh_at"] == int(NOW.timestamp())
    # even if a caller hands it a stamp beyond the margin
    far = peeringdb.next_cursor(None, {"fac": datetime(9999, 1, 1, tzinfo=UTC), "org": None}, True, NOW)
    assert far["since"]["fac"] == int((NOW + peeringdb.CLOCK_MARGIN).timestamp())
    assert far["full_refresh_at"] == int(NOW.timestamp())


def test_empty_since_reads_are_tracked_and_cleared():
    since = {"fac": ts("2026-11-01T00:00:00Z"), "org": ts("2026-11-01T00:00:00Z")}
    cursor = {"since": since, "full_refresh_at": ts("2026-11-10T00:00:00Z")}
    first = peeringdb.parse(payloads([], [], since=since), cursor, now=NOW)
    assert first.cursor["empty_since"] == int(NOW.timestamp())
    later = peeringdb.parse(payloads([], [], since=since), first.cursor, now=NOW + timedelta(days=3))
    assert later.cursor["empty_since"] == int(NOW.timestamp())  # since the first empty read
    back = peeringdb.parse(payloads([pf.FACILITIES_V1[1]], [], since=since), later.cursor, now=NOW)
    assert "empty_since" not in back.cursor


def test_fetch_plan_reads_everything_again_when_the_stored_cursor_looks_wrong(caplog):
    now = NOW.timestamp()
    fresh = {"since": {"fac": int(now) - 86_400, "org": int(now) - 90_000}, "full_refresh_at": int(now) - 86_400}
    caplog.set_level(logging.WARNING, logger="dsrwatch.sources.peeringdb")
    assert peeringdb.fetch_plan(fresh, now) == {"org": int(now) - 90_000, "fac": int(now) - 86_400}
    assert caplog.records == []
    year_9999 = 253_402_214_400
    for cursor, why in [
        ({**fresh, "since": {**fresh["since"], "fac": year_9999}}, r"since of /api/fac is 9999-12-31 00:00 UTC, ahead of now"),
        ({**fresh, "full_refresh_at": year_9999}, r"full_refresh_at is 9999-12-31 00:00 UTC, ahead of now"),
        ({**fresh, "empty_since": int(now) - 29 * 86_400}, r"since= reads have returned no record at all for 29 days, "
                                                          r"longer than the 28-day full-refresh period"),
        ({**fresh, "since": {"fac": "soon", "org": 1}}, r"since of /api/fac is 'soon', not a unix time"),
        ({**fresh, "since": [1, 2]}, r"it is not of the form"),
    ]:  # fmt: skip
        caplog.clear()
        assert peeringdb.fetch_plan(cursor, now) == {"org": None, "fac": None}, why
        (warning,) = caplog.records
        assert re.search(r"peeringdb: the stored cursor looks wrong \(" + why, warning.getMessage()), warning.getMessage()
        assert warning.getMessage().endswith("reading everything again")
    # empty reads for less than the full-refresh period are not yet suspicious
    caplog.clear()
    assert peeringdb.fetch_plan({**fresh, "empty_since": int(now) - 3 * 86_400}, now)["fac"] == int(now) - 86_400
    assert caplog.records == []


# -- fetch plan and URLs ----------------------------------------------------------------------------
def test_page_urls_are_fixed_for_replay():
    assert pf.page_url("fac", None, 0, 500) == "https://www.peeringdb.com/api/fac?depth=0&limit=500&skip=0"
    assert (pf.page_url("org", 1_788_000_000, 1000, 500)
            == "https://www.peeringdb.com/api/org?depth=0&since=1788000000&limit=500&skip=1000")  # fmt: skip


def test_fetch_plan_reads_everything_without_a_recent_complete_read():
    now = 1_800_000_000
    assert peeringdb.fetch_plan(None, now) == {"org": None, "fac": None}
    fresh = {"since": {"fac": now - 86_400, "org": now - 90_000}, "full_refresh_at": now - 86_400}
    assert peeringdb.fetch_plan(fresh, now) == {"org": now - 90_000, "fac": now - 86_400}
    stale = {**fresh, "full_refresh_at": now - (peeringdb.FULL_REFRESH_DAYS + 1) * 86_400}
    assert peeringdb.fetch_plan(stale, now) == {"org": None, "fac": None}
    assert peeringdb.fetch_plan({**fresh, "since": {"fac": 1, "org": None}}, now) == {"org": None, "fac": None}


# -- fetch against a real local HTTP server ---------------------------------------------------------
@pytest.fixture
def live(sleeps):
    made: list[Fetcher] = []

    def make(**kwargs) -> Fetcher:
        kwargs.setdefault("replay_dirs", [])
        kwargs.setdefault("record_dir", None)
        kwargs.setdefault("politeness_delay", 0.0)
        kwargs.setdefault("sleep", sleeps.append)
        fetcher = Fetcher(**kwargs)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def script_pages(server, endpoint: str, records: list[dict], limit: int, since: int | None = None) -> None:
    for index, chunk in enumerate(pf.pages(records, limit)):
        query = pf.page_url(endpoint, since, index * limit, limit).split("?", 1)[1]
        server.script(f"/api/{endpoint}?{query}", Answer(200, {"Content-Type": "application/json"}, pf.page_body(chunk)))


def paths(server) -> list[str]:
    return [r.path for r in server.requests]


def test_complete_fetch_pages_with_limit_and_skip_until_a_short_page(server, live, monkeypatch):
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", 2)
    script_pages(server, "org", pf.ORGANISATIONS_V1[:3], 2)
    script_pages(server, "fac", pf.FACILITIES_V1[:4], 2)  # two full pages, then an empty one
    fetcher = live()
    responses = list(peeringdb.fetch(fetcher, None, base_url=server.url("/api")))
    assert paths(server) == ["/api/org?depth=0&limit=2&skip=0", "/api/org?depth=0&limit=2&skip=2",
                             "/api/fac?depth=0&limit=2&skip=0", "/api/fac?depth=0&limit=2&skip=2",
                             "/api/fac?depth=0&limit=2&skip=4"]  # fmt: skip
    assert fetcher.requests_made == 5 and [r.http_status for r in responses] == [200] * 5
    batch = peeringdb.parse(RawPayload(r.url, r.body) for r in responses)
    assert sorted(facility_rows(batch)) == [101, 102, 103, 104] and batch.complete


def test_incremental_fetch_asks_only_for_changes_since_the_cursor(server, live, monkeypatch):
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", 2)
    now = ts("2026-09-06T00:00:00Z")
    cursor = {"since": {"fac": ts("2026-09-05T00:00:00Z"), "org": ts("2026-09-04T00:00:00Z")}, "full_refresh_at": now - 86_400}
    changed_facilities, changed_organisations = pf.changes_v2()
    script_pages(server, "org", changed_organisations, 2, since=cursor["since"]["org"])
    script_pages(server, "fac", changed_facilities, 2, since=cursor["since"]["fac"])
    responses = list(peeringdb.fetch(live(), cursor, base_url=server.url("/api"), now=now))
    assert all(f"since={cursor['since'][p.split('?')[0].rsplit('/', 1)[1]]}" in p for p in paths(server))
    assert len(responses) == 4  # org: 2 + empty page; fac: 2 + 1
    batch = peeringdb.parse((RawPayload(r.url, r.body) for r in responses), cursor)
    assert not batch.complete and batch.deleted_keys["core.peeringdb_facilities"] == [(106,)]


def test_429_is_waited_out_for_retry_after_and_requests_keep_their_pace(server, live, sleeps, monkeypatch):
    monkeypatch.delenv("DSR_POLITENESS_DELAY")  # the source's own delay, 3 s between requests
    monkeypatch.setattr(peeringdb, "PAGE_SIZE", 10)
    script_pages(server, "org", pf.ORGANISATIONS_V1, 10)
    body = pf.page_body(pf.FACILITIES_V1)
    server.script("/api/fac?depth=0&limit=10&skip=0",
                  Answer(429, {"Retry-After": "7", "Content-Type": "application/json"},
                         b'{"message": "Request was throttled. Expected available in 7 seconds."}'),
                  Answer(200, {"Content-Type": "application/json"}, body))  # fmt: skip
    fetcher = live(politeness_delay=peeringdb.SOURCE.politeness_delay, **peeringdb.SOURCE.fetcher_options)
    responses = list(peeringdb.fetch(fetcher, None, base_url=server.url("/api")))
    assert [r.http_status for r in responses] == [200, 200]
    assert len(server.requests_to("/api/fac")) == 2  # the 429, then the retry
    assert 7.0 in sleeps  # Retry-After, not the exponential backoff
    pacing = [s for s in sleeps if s != 7.0]
    assert len(pacing) == 2 and all(2.5 < s <= 3.0 for s in pacing)  # politeness before each later request


def test_api_key_header_only_when_the_connection_provides_one(server, live, monkeypatch, caplog):
    """The key is declared on SOURCE (api_key) and applied by the fetch layer, as the pipeline builds
    the Fetcher; peeringdb.fetch itself never touches the connection or the fetcher's settings."""
    from dsrwatch import airflow_adapter

    monkeypatch.setattr(peeringdb, "PAGE_SIZE", 10)
    script_pages(server, "org", [], 10)
    script_pages(server, "fac", [], 10)
    monkeypatch.delenv("DSR_POLITENESS_DELAY")
    spec = peeringdb.SOURCE
    fetcher = live(politeness_delay=spec.politeness_delay, api_key=spec.api_key)  # no AIRFLOW_CONN_PEERINGDB
    list(peeringdb.fetch(fetcher, None, base_url=server.url("/api")))
    assert [r.header("Authorization") for r in server.requests] == [None, None]
    assert fetcher.politeness_delay == peeringdb.ANONYMOUS_DELAY == 3.0  # 20 requests/min anonymous

    # The lookup through Airflow itself runs in a fresh interpreter (test_api_key_is_read_from_the_airflow_connection).
    asked = []

    class KeyedConnection:
        password = " test-key-123 "  # as typed in the UI: the fetch layer strips it

    monkeypatch.setattr(airflow_adapter, "connection_from_environment",
                        lambda conn_id: asked.append(conn_id) or KeyedConnection())  # fmt: skip
    caplog.set_level(logging.DEBUG)
    fetcher = live(politeness_delay=spec.politeness_delay, api_key=spec.api_key)
    list(peeringdb.fetch(fetcher, None, base_url=server.url("/api")))
    assert asked == ["peeringdb"]
    assert [r.header("Authorization") for r in server.requests[2:]] == ["Api-Key test-key-123"] * 2
    assert fetcher.politeness_delay == peeringdb.KEYED_DELAY == 2.0  # 40 requests/min with a key
    assert "test-key-123" not in caplog.text and "API key of Airflow connection 'peeringdb'" in caplog.text


PROBE = """
import sys
from dsrwatch.fetching import Fetcher
from dsrwatch.sources import peeringdb
fetcher = Fetcher(replay_dirs=[], record_dir=None, politeness_delay=peeringdb.SOURCE.politeness_delay,
                  api_key=peeringdb.SOURCE.api_key)
print(repr(fetcher.headers.get("Authorization")), fetcher.politeness_delay, "airflow.sdk" in sys.modules)
"""


@pytest.mark.parametrize(
    ("connection", "expected"),
    [('{"conn_type": "generic", "password": "test-key-123"}', "'Api-Key test-key-123' 2.0 True"),
     ('{"conn_type": "generic", "host": "www.peeringdb.com"}', "None 3.0 True"),
     (None, "None 3.0 False")],  # no variable, not in a task: Airflow is not even imported
)  # fmt: skip
def test_api_key_is_read_from_the_airflow_connection(connection, expected, tmp_path):
    # In a fresh interpreter: importing Airflow reconfigures logging for the whole process.
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": str(ROOT / "plugins")}
    env.pop("AIRFLOW_CONN_PEERINGDB", None)
    env.pop("DSR_POLITENESS_DELAY", None)  # the suite's 0 would hide the delay
    env.pop("DSR_REPLAY_DIR", None)  # no key is looked up in replay mode
    if connection is not None:
        env["AIRFLOW_CONN_PEERINGDB"] = connection
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected


def test_source_declares_its_contract():
    spec = peeringdb.SOURCE
    assert spec.name == "peeringdb" and spec.category == "data_centres" and spec.hosts == ("www.peeringdb.com",)
    assert spec.politeness_delay == 3.0 and "no commercial use" in spec.licence
    assert (spec.api_key.conn_id, spec.api_key.header, spec.api_key.header_value("k"),
            spec.api_key.politeness_delay) == ("peeringdb", "Authorization", "Api-Key k", 2.0)  # fmt: skip
    assert [t.table for t in spec.tables[:2]] == ["core.peeringdb_facilities", "core.peeringdb_organisations"]
    assert {e.table for e in spec.expectations} == {"core.peeringdb_facilities", "core.peeringdb_organisations"}
