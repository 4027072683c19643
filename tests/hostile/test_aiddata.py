"""Hostile AidData release zips: each case damages the eight-record GCDF fixture one way."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from helpers import deals_fixtures as fx
from helpers.db import query, scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

ZIP = Path(fx.AIDDATA_PATH)
ISLAMABAD = "aiddata|37016"  # a kept deal without government-hosting rows
HOSTILE_TEXT = "<script>alert(1)</script>'; DROP TABLE core.deals; -- {{ 7*7 }}"


def write_body(body: bytes) -> callable:
    return lambda root: (root / ZIP).write_bytes(body)


def release(records: list[dict], **kwargs) -> callable:
    return write_body(fx.release_zip(records, **kwargs))


def islamabad(**fields) -> callable:
    """The release with the Islamabad record's fields changed (official column names)."""
    return release([{**fx.ISLAMABAD, **fields}, *fx.RELEASE_V1[1:]])


def zipped(workbook: bytes, name: str = fx.WORKBOOK_NAME) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, workbook)
    return out.getvalue()


def sheet_renamed(root: Path) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(fx.workbook_bytes(fx.RELEASE_V1)))
    workbook.active.title = "Sheet1"
    out = io.BytesIO()
    workbook.save(out)
    write_body(zipped(out.getvalue()))(root)


def sheet_xml(change) -> callable:
    """The release with the worksheet's XML passed through ``change`` (bytes -> bytes)."""

    def corrupt(root: Path) -> None:
        source = zipfile.ZipFile(io.BytesIO(fx.workbook_bytes(fx.RELEASE_V1)))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                data = source.read(item.filename)
                target.writestr(item.filename, change(data) if item.filename.startswith("xl/worksheets/") else data)
        write_body(zipped(out.getvalue()))(root)

    return corrupt


def column_renamed(old: str, new: str) -> callable:
    columns = tuple(new if c == old else c for c in fx.GCDF3_COLUMNS)
    records = [{k: v for k, v in r.items() if k != old} for r in fx.RELEASE_V1]
    return release(records, columns=columns)


GOOD = fx.release_zip(fx.RELEASE_V1)
CASES = [
    # not the release: the run fails, naming the URL and what was expected
    Case("HTML error page", write_body(b"<html><body>503 Service Unavailable</body></html>"), FAILED,
         r"Version_3_0\.zip: not a zip file .*starting '<html><body>503"),
    Case("zip truncated", write_body(GOOD[: len(GOOD) // 2]), FAILED, r"Version_3_0\.zip: not a zip file"),
    Case("empty body", write_body(b""), FAILED, r"Version_3_0\.zip: not a zip file .*0 bytes"),
    Case("zip without a workbook", write_body(zipped(b"Release notes", name="README.txt")),
         FAILED, r"Version_3_0\.zip: the zip holds no \.xlsx workbook"),
    Case("GCDF sheet missing", sheet_renamed, FAILED,
         r"Version_3_0\.zip: no sheet named GCDF_<release> \(sheets: \['Sheet1'\]\)"),
    Case("required column renamed", column_renamed("Implementing Agencies", "Implementing Agency"), FAILED,
         r"Version_3_0\.zip: the dataset sheet lacks column\(s\) \['Implementing Agencies'\]"),
    Case("sheet XML not UTF-8", sheet_xml(lambda xml: xml.replace(b"Islamabad", b"Islam\xe9bad", 1)), FAILED,
         r"Version_3_0\.zip: the dataset sheet cannot be read after row \d+ \(ParseError: not well-formed"),
    Case("empty sheet", release([]), QUARANTINED, r"core\.deals: would remove 6 of 6 present entities"),
    # one bad record: set aside, its deal keeps its previous version, the rest loads
    Case("commitment year 'soon'", islamabad(**{"Commitment Year": "soon"}), SET_ASIDE,
         r"unreadable record: ValueError: Commitment Year 'soon' is not a number", record_key=ISLAMABAD),
    Case("commitment year is a date", islamabad(**{"Commitment Year": datetime(2010, 12, 1)}), SET_ASIDE,
         r"Commitment Year datetime\.datetime\(2010, 12, 1, 0, 0\) is not a number", record_key=ISLAMABAD),
    Case("commitment year 3021", islamabad(**{"Commitment Year": 3021}), SET_ASIDE, r"outside 1949\.\.2100",
         record_key=ISLAMABAD, field="commitment_year"),
    Case("commitment year 99999999999", islamabad(**{"Commitment Year": 99_999_999_999}), SET_ASIDE,
         r"out of the integer range", record_key=ISLAMABAD, field="commitment_year"),
    Case("negative amount", islamabad(**{"Amount (Constant USD 2021)": -174885814.4}), SET_ASIDE,
         r"outside 0\.\.1000000000000", record_key=ISLAMABAD, field="amount_usd"),
    Case("amount NaN", islamabad(**{"Amount (Constant USD 2021)": "NaN"}), SET_ASIDE, r"not a finite number",
         record_key=ISLAMABAD, field="amount_usd"),
    Case("amount infinity", islamabad(**{"Amount (Constant USD 2021)": "1e999"}), SET_ASIDE, r"not a finite number",
         record_key=ISLAMABAD, field="amount_usd"),
    Case("amount in words", islamabad(**{"Amount (Constant USD 2021)": "about 175 million"}), SET_ASIDE,
         r"Amount \(Constant USD 2021\) 'about 175 million' is not a number", record_key=ISLAMABAD),
    Case("record id listed twice with different values",
         release([*fx.RELEASE_V1, {**fx.ISLAMABAD, "Title": "Islamabad Safe City, phase two"}]), SET_ASIDE,
         r"core\.deals: the source lists this key twice with different values$", record_key=ISLAMABAD),
    Case("10 kB agency name", islamabad(**{"Implementing Agencies": "H" * 10_000 + "|Islamabad Capital Territory Police"}),
         SET_ASIDE, r"agency name is 10000 bytes long, at most 1000 allowed for a key", record_key=ISLAMABAD),
    Case("10 kB sector name", islamabad(**{"Sector Name": "S" * 10_000}), SET_ASIDE,
         r"10000 bytes long, at most 2000 allowed", record_key=ISLAMABAD, field="sector_name"),
    Case("record id with '|'", release([*fx.RELEASE_V1, {**fx.ISLAMABAD, "AidData Record ID": "37|016"}]), SET_ASIDE,
         r"may not contain '\|'", field="deal_id"),
    # listed twice identically: loaded once, nothing changes
    Case("record id listed twice identically", release([*fx.RELEASE_V1, fx.ISLAMABAD]), LOADED, ""),
    Case("title carrying HTML, SQL and Jinja", islamabad(Title=f"{fx.ISLAMABAD['Title']} {HOSTILE_TEXT}"), LOADED,
         ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_aiddata_release(case, hostile, warehouse):
    changed = ("deals", "deal_components", "entity_changes") if case.id.startswith("title carrying") else ()
    hostile("aiddata", lambda root: fx.write_aiddata_replay(root, fx.RELEASE_V1), case, changed_tables=changed)
    if case.id.startswith("title carrying"):
        assert scalar(warehouse, "SELECT title FROM core.deals WHERE deal_id = '37016'").endswith(HOSTILE_TEXT)
    if case.outcome == SET_ASIDE and case.record_key == ISLAMABAD:
        # the deal kept its previous version with its parties: not updated, not removed
        assert query(warehouse, """SELECT commitment_year, amount_usd::float, removed_at FROM core.deals
                                    WHERE deal_id = '37016'""") == [(2010, 174885814.4, None)]  # fmt: skip
        assert scalar(warehouse, """SELECT count(*) FROM core.deal_parties WHERE deal_id = '37016'
                                     AND removed_at IS NULL""") == 5  # fmt: skip
