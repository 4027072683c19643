"""The AidData GCDF 3.0 parser on small workbooks built here (official column names, zipped like
the release): streaming read, relevance filter, parties and roles, components, government hosting."""

import io
import re
import zipfile
from datetime import UTC, date, datetime

import pytest

from dsrwatch.deals import DEALS
from dsrwatch.sources import aiddata
from dsrwatch.sources.base import SourceFormatError
from dsrwatch.warehouse.raw import RawPayload

from helpers import deals_fixtures as fx


def parse(records, release="3.0", cursor=None, body=None):
    body = body if body is not None else fx.release_zip(records, release)
    return aiddata.parse([RawPayload(aiddata.RELEASE_URL, body)], cursor)


def plain(value):
    return getattr(value, "obj", value)  # Jsonb -> the Python object inside


def table(batch, name):
    return [tuple(plain(v) for v in row) for row in batch.rows[name]]


def deals(batch):
    return {row[1]: dict(zip(DEALS.all_columns, row, strict=True)) for row in table(batch, "core.deals")}


def parties(batch, deal_id):
    return {(role, org): (name, kind) for _, d, role, org, name, kind in table(batch, "core.deal_parties") if d == deal_id}


@pytest.fixture(scope="module")
def v1():
    return parse(fx.RELEASE_V1)


def test_keeps_only_digital_infrastructure(v1):
    assert set(deals(v1)) == fx.KEPT_V1
    assert v1.entities == len(fx.KEPT_V1)
    assert v1.complete and v1.cursor == {"release": "3.0", "records": len(fx.RELEASE_V1)}
    assert "8 records read, 6 digital-infrastructure deals kept" in v1.warnings[0]


def test_relevance_says_why_a_deal_was_kept(v1):
    kept = deals(v1)
    assert kept["90001"]["relevance"][0] == "sector:COMMUNICATIONS"
    assert "component:safe_city" in kept["37016"]["relevance"]
    assert "prc_vendor:huawei-technologies" in kept["37016"]["relevance"]
    # a Huawei donation in education: kept for the vendor alone
    assert kept["53843"]["relevance"] == ["prc_vendor:huawei-technologies", "prc_vendor_named:huawei-technologies"]
    # Thales' C5 has no PRC link: kept for its components (it matters as a control case)
    assert kept["90002"]["relevance"] == ["component:cctv", "component:command_centre", "component:safe_city"]


def test_deal_columns(v1):
    islamabad = deals(v1)["37016"]
    assert islamabad["source"] == "aiddata" and islamabad["release"] == "3.0"
    assert (islamabad["recipient"], islamabad["recipient_iso3"], islamabad["commitment_year"]) == ("Pakistan", "PAK", 2010)
    assert islamabad["amount_usd"] == 174885814.4 and islamabad["amount_basis"] == "constant 2021 USD"
    assert islamabad["source_urls"] == ["https://www.example.org/islamabad-safe-city",
                                        "https://www.example.org/pakistan-erd-loans"]  # fmt: skip
    assert islamabad["mentioned_organisations"] == ["china-exim-bank", "huawei-technologies"]
    assert islamabad["status"] == "Completion" and islamabad["flow_type"] == "Loan"


def test_parties_and_roles(v1):
    assert parties(v1, "37016") == {
        ("financier", "china-exim-bank"): ("Export-Import Bank of China (China Eximbank)", "State-owned Policy Bank"),
        ("vendor", "huawei-technologies"): ("Huawei Technologies Co., Ltd.", "Chinese Private Sector"),
        ("buyer", "pakistan-ministry-of-interior"): ("Pakistan Ministry of Interior", "Recipient Government Agency"),
        ("buyer", "islamabad-capital-territory-police"): ("Islamabad Capital Territory Police",
                                                          "Recipient Government Agency"),
        ("buyer", "government-of-pakistan"): ("Government of Pakistan", "Recipient government (AidData Recipient)"),
    }  # fmt: skip
    nairobi = parties(v1, "90001")
    assert ("contractor", "safaricom") in nairobi and ("vendor", "huawei-technologies") in nairobi
    assert ("financier", "government-of-kenya") in nairobi
    # the insurer is a financier
    assert ("financier", "sinosure") in parties(v1, "52654")
    # a PRC technology firm funding a project with digital components supplies it (camera donation) ...
    kampala = parties(parse([fx.KAMPALA]), "59946")
    assert {("financier", "huawei-technologies"), ("vendor", "huawei-technologies")} <= set(kampala)
    # ... but not a smart classroom, which has no component of the taxonomy
    assert {role for role, org in parties(v1, "53843") if org == "huawei-technologies"} == {"financier"}


def test_components_with_words_and_fields(v1):
    components = {(d, tag): (words, fields) for _, d, tag, words, fields in table(v1, "core.deal_components")}
    assert components[("37016", "face_recognition")] == (["face recognition"], ["description"])
    assert components[("37016", "safe_city")] == (["safe city"], ["title", "description"])
    # the end user comes from the buyers' names as well as from the text
    assert components[("37016", "police_security")] == (["police", "ministry of interior"], ["description", "buyer"])
    assert components[("90002", "cctv")] == (["videovigilancia"], ["description"])


def test_government_hosting_for_data_centre_and_e_government_deals(v1):
    rows = table(v1, "core.government_hosting")
    bodies = {(r[2], r[3]): r[4:7] for r in rows}
    assert bodies == {
        ("aiddata:59366", "Kenya Ministry of Information, Communications and Technology"):
            ("government", "KEN", "https://www.example.org/konza"),
        ("aiddata:59366", "Konza Technopolis Development Authority"): ("government", "KEN", "https://www.example.org/konza"),
        ("aiddata:52654", "Bangladesh Computer Council"): ("government", "BGD", "https://www.example.org/bangladesh-ndc"),
    }  # fmt: skip
    assert all(r[0] == "aiddata" and r[1] == "deal" for r in rows)
    assert "data_centre: national data center, data center" in next(r[7] for r in rows if r[2] == "aiddata:52654")


def test_release_comes_from_the_sheet_name_and_a_new_one_is_reported():
    batch = parse(fx.RELEASE_V1[:2], release="3.1", cursor={"release": "3.0"})
    assert {row["release"] for row in deals(batch).values()} == {"3.1"}
    assert any("new AidData release 3.0 -> 3.1" in w for w in batch.warnings)


def test_agency_lists_split_on_pipes_with_aligned_types():
    assert aiddata.split_agencies("Huawei Technologies Co., Ltd.| Islamabad Police ", "Chinese Private Sector|Recipient Government Agency") == [
        ("Huawei Technologies Co., Ltd.", "Chinese Private Sector"), ("Islamabad Police", "Recipient Government Agency")]  # fmt: skip
    # a type list that does not line up gives no types rather than wrong ones
    assert aiddata.split_agencies("A|B", "Chinese Private Sector") == [("A", None), ("B", None)]
    assert aiddata.split_agencies(None, None) == []


@pytest.mark.parametrize(
    ("agency_type", "organisation", "role"),
    [
        ("Recipient Government Agency", "x", "buyer"),
        ("Government Agency", "x", "buyer"),  # GCDF 2.0 style, no origin
        ("Chinese Government Agency", "x", "contractor"),
        ("Chinese State-owned Company", "x", "vendor"),
        ("Chinese Private Sector", "x", "vendor"),
        ("Other", "huawei-technologies", "vendor"),  # registry-listed firm without a Chinese type
        ("Recipient Private Sector", "x", "contractor"),
        ("Other Joint Venture/Special Purpose Vehicle", "x", "contractor"),
        ("Recipient State-owned Bank", "x", "financier"),
        (None, "x", "contractor"),
    ],
)
def test_implementing_agency_role_by_type(agency_type, organisation, role):
    assert aiddata.implementing_role(agency_type, organisation, frozenset({"huawei-technologies"})) == role


def test_missing_required_column_is_schema_drift():
    columns = tuple(c for c in fx.GCDF3_COLUMNS if c != "Implementing Agencies")
    records = [{k: v for k, v in fx.ISLAMABAD.items() if k != "Implementing Agencies"}]
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr(fx.WORKBOOK_NAME, fx.workbook_bytes(records, columns=columns))
    with pytest.raises(SourceFormatError, match=r"lacks column\(s\) \['Implementing Agencies'\]"):
        parse(None, body=body.getvalue())


def test_not_a_zip_names_the_url_and_keeps_the_payload():
    with pytest.raises(SourceFormatError, match=r"Version_3_0\.zip: not a zip file.*'<html>"):
        parse(None, body=b"<html>Service unavailable</html>")


def test_zip_without_a_workbook():
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("README.txt", "nothing here")
    with pytest.raises(SourceFormatError, match=r"no \.xlsx workbook"):
        parse(None, body=body.getvalue())


def test_a_workbook_served_without_the_zip_is_read_too():
    batch = parse(None, body=fx.workbook_bytes(fx.RELEASE_V1))
    assert set(deals(batch)) == fx.KEPT_V1


def test_wrong_sheet_name():
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(fx.workbook_bytes(fx.RELEASE_V1)))
    workbook.active.title = "Sheet1"
    out = io.BytesIO()
    workbook.save(out)
    body = out.getvalue()
    with pytest.raises(SourceFormatError, match=r"no sheet named GCDF_<release>"):
        parse(None, body=body)


def with_sheet_edited(edit) -> bytes:
    """Release v1's workbook with ``edit`` applied to the sheet XML (the bytes a damaged file holds)."""
    source = zipfile.ZipFile(io.BytesIO(fx.workbook_bytes(fx.RELEASE_V1)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item.filename, edit(data) if item.filename.startswith("xl/worksheets/") else data)
    return out.getvalue()


def test_recorded_dimensions_are_not_trusted():
    """A writer that records a too-small <dimension> must not truncate the read-only parse."""
    body = with_sheet_edited(lambda xml: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C3"', xml))
    batch = parse(None, body=body)
    assert set(deals(batch)) == fx.KEPT_V1


def test_values_in_other_types_and_missing_iso3():
    record = fx.gcdf_record(1, Title="Safe city project", Recipient="Kenya", **{
        "Commitment Year": "2015", "Sector Name": "COMMUNICATIONS", "Funding Agencies": "China Eximbank",
        "Amount (Constant USD 2021)": "1,234.567"})  # fmt: skip
    regional = fx.gcdf_record(2, Title="Regional data center", Recipient="Africa, regional", **{
        "Commitment Year": 2016.0, "Sector Name": "COMMUNICATIONS", "Funding Agencies": "China Eximbank"})  # fmt: skip
    kept = deals(parse([record, regional]))
    assert (kept["1"]["recipient_iso3"], kept["1"]["commitment_year"], kept["1"]["amount_usd"]) == ("KEN", 2015, 1234.57)
    assert (kept["2"]["recipient_iso3"], kept["2"]["commitment_year"]) == (None, 2016)
    # a regional project has no single recipient government among its buyers
    assert not [p for p in parties(parse([regional]), "2") if p[0] == "buyer"]


def test_duplicate_record_ids_are_reported_and_kept_once():
    batch = parse([fx.ISLAMABAD, fx.ISLAMABAD])
    assert batch.entities == 1
    assert any("duplicate record ids skipped: ['37016']" in w for w in batch.warnings)


def test_run_without_the_release_payload():
    with pytest.raises(SourceFormatError, match="run has no https://docs.aiddata.org"):
        aiddata.parse([RawPayload("https://elsewhere.example/x.zip", b"")])


def test_source_contract():
    spec = aiddata.SOURCE
    assert spec.hosts == ("docs.aiddata.org",) and spec.licence == "ODC-By 1.0"
    assert spec.tables[0] is DEALS and spec.category == "deals"
    assert {t.table: t.scope_column for t in spec.tables if t.scope_column} == {
        "core.deals": "source", "core.deal_parties": "source", "core.deal_components": "source",
        "core.government_hosting": "source"}  # fmt: skip
    assert spec.expectations


# -- zip bombs: the release zip's workbook is capped before and while it is extracted ------------------
@pytest.fixture
def spools(tmp_path, monkeypatch):
    """Every temporary file made while the test runs, as a named file under ``tmp_path/spool`` (the real
    TemporaryFile has no name on Linux, so its size could not be seen); TMPDIR points there too."""
    import tempfile
    from pathlib import Path

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    named = tempfile.NamedTemporaryFile
    made: list[Path] = []

    def recorded_spool(*args, **kwargs):
        spool = named(dir=spool_dir, delete=False)
        made.append(Path(spool.name))
        return spool

    monkeypatch.setattr(tempfile, "TemporaryFile", recorded_spool)

    def written() -> int:
        """Bytes now in the temporary directory (every spool, whatever made it)."""
        return sum(p.stat().st_size for p in spool_dir.rglob("*") if p.is_file())

    written.made = made
    return written


def zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def declare_size(body: bytes, member: str, size: int) -> bytes:
    """``body`` with the uncompressed size of ``member`` in the central directory set to ``size`` (a lie)."""
    body = bytearray(body)
    start = 0
    while (start := body.find(b"PK\x01\x02", start)) >= 0:
        name_length = int.from_bytes(body[start + 28 : start + 30], "little")
        if bytes(body[start + 46 : start + 46 + name_length]) == member.encode():
            body[start + 24 : start + 28] = size.to_bytes(4, "little")
            return bytes(body)
        start += 4
    raise AssertionError(f"{member} is not in the central directory")


def read_release(body: bytes, cap: int) -> tuple[str, int]:
    with aiddata.open_release(body, max_uncompressed_bytes=cap) as (release, records):
        return release, sum(1 for _ in records)


MiB = 2**20


def test_a_workbook_declaring_more_than_the_cap_is_refused_before_extraction(spools):
    body = zip_of(fx.WORKBOOK_NAME, b"\0" * (8 * MiB))
    assert len(body) < 16 * 1024  # 8 MiB of zeros deflate to a few KB

    with pytest.raises(SourceFormatError) as caught:
        read_release(body, cap=MiB)

    message = str(caught.value)
    assert aiddata.RELEASE_URL in message and repr(fx.WORKBOOK_NAME) in message
    assert f"declares {8 * MiB} bytes" in message and f"cap of {MiB} bytes" in message
    assert "before extraction" in message
    assert spools.made == [] and spools() == 0  # nothing spooled at all


def test_the_default_cap_is_one_gib_and_applies_to_parse(spools):
    assert aiddata.MAX_UNCOMPRESSED_BYTES == 2**30
    body = declare_size(zip_of(fx.WORKBOOK_NAME, b"\0" * 1000), fx.WORKBOOK_NAME, 2**31)

    with pytest.raises(SourceFormatError, match=rf"declares {2**31} bytes .* over the cap of {2**30} bytes"):
        parse(None, body=body)

    assert spools() == 0


def test_a_workbook_lying_about_its_size_is_stopped_at_the_cap(spools):
    cap = MiB
    body = declare_size(zip_of(fx.WORKBOOK_NAME, b"\0" * (8 * cap)), fx.WORKBOOK_NAME, 1000)

    with pytest.raises(SourceFormatError) as caught:
        read_release(body, cap=cap)

    message = str(caught.value)
    assert aiddata.RELEASE_URL in message and repr(fx.WORKBOOK_NAME) in message
    assert "declares 1000 bytes" in message and f"cap {cap} bytes" in message
    assert len(spools.made) == 1
    assert spools() <= cap  # the 8 MiB never reached the temporary directory


def test_the_spool_copy_counts_bytes_whatever_the_member_declared(tmp_path):
    """The count is the last guard: a member stream giving more than the cap is cut at the cap
    (Python's zipfile already stops at the declared size; this does not rely on it)."""
    cap = 100_000
    info = zipfile.ZipInfo(fx.WORKBOOK_NAME)
    info.file_size = 10
    with open(tmp_path / "spool", "wb") as spool, pytest.raises(SourceFormatError) as caught:
        aiddata._spool_member(io.BytesIO(b"\0" * (5 * cap)), spool, aiddata.RELEASE_URL, info, cap)

    message = str(caught.value)
    assert repr(fx.WORKBOOK_NAME) in message and "declares 10 bytes" in message
    assert f"beyond the cap of {cap} bytes" in message
    assert (tmp_path / "spool").stat().st_size <= cap


def test_a_workbook_of_exactly_the_cap_is_read(spools):
    workbook = fx.workbook_bytes(fx.RELEASE_V1)
    body = zip_of(fx.WORKBOOK_NAME, workbook)

    assert read_release(body, cap=len(workbook)) == ("3.0", len(fx.RELEASE_V1))
    with pytest.raises(SourceFormatError, match="cap"):
        read_release(body, cap=len(workbook) - 1)


# -- bad records: set aside, the rest of the release loads --------------------------------------------
def islamabad(**fields):
    return {**fx.ISLAMABAD, **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Commitment Year": "soon"}, r"Commitment Year 'soon' is not a number"),
        ({"Commitment Year": "2010.5"}, r"Commitment Year '2010.5' is not a year"),
        ({"Commitment Year": 2010.5}, r"Commitment Year 2010.5 is not a year"),
        ({"Commitment Year": datetime(2010, 12, 1)}, r"Commitment Year datetime\.datetime\(2010, 12, 1, 0, 0\) is not a number"),
        ({"Amount (Constant USD 2021)": "about 175 million"}, r"Amount \(Constant USD 2021\) 'about 175 million' is not a number"),
        ({"Implementing Agencies": "H" * 1500 + "|Islamabad Capital Territory Police"},
         r"agency name is 1500 bytes long, at most 1000 allowed for a key"),
    ],
)  # fmt: skip
def test_a_kept_record_that_cannot_be_read_is_set_aside(fields, message):
    batch = parse([islamabad(**fields), *fx.RELEASE_V1[1:]])
    assert set(deals(batch)) == fx.KEPT_V1 - {"37016"}  # the rest loads
    (record,) = batch.set_aside
    assert (record.table, record.record_key, record.entity_key, record.url) == (
        "core.deals", "aiddata|37016", ("aiddata", "37016"), aiddata.RELEASE_URL)
    assert re.search(message, record.reason), record.reason
    assert not [p for p in table(batch, "core.deal_parties") if p[1] == "37016"]
    assert not [a for a in table(batch, "core.organisation_aliases") if a[0].startswith("HHH")]


def test_a_record_that_is_not_kept_is_not_read_further():
    batch = parse([fx.ISLAMABAD, {**fx.ROAD, "Commitment Year": "soon", "Amount (Constant USD 2021)": "n/a"}])
    assert set(deals(batch)) == {"37016"} and batch.set_aside == []


def test_values_that_convert_are_read_and_nan_passes_to_validation():
    batch = parse([islamabad(**{"Commitment Year": " 2010 ", "Amount (Constant USD 2021)": "NaN"})])
    row = deals(batch)["37016"]
    assert row["commitment_year"] == 2010 and row["amount_usd"] != row["amount_usd"]  # NaN: refused by validation


def test_a_record_id_listed_twice_with_different_values_is_set_aside():
    batch = parse([*fx.RELEASE_V1, islamabad(Title="Islamabad Safe City, second phase")])
    assert set(deals(batch)) == fx.KEPT_V1 - {"37016"}
    (record,) = batch.set_aside
    assert (record.record_key, record.entity_key) == ("aiddata|37016", ("aiddata", "37016"))
    assert record.reason == "the source lists this key twice with different values"
    assert any("listed twice with different values, set aside: ['37016']" in w for w in batch.warnings)
    # listed twice identically: loaded once (the duplicate is reported)
    assert parse([*fx.RELEASE_V1, fx.ISLAMABAD]).set_aside == []


def test_record_ids_in_other_types():
    assert [aiddata._record_id(v) for v in (37016, 37016.0, "37016", " 37016.0 ", "A-17", "1e999", "nan", True)] == [
        "37016", "37016", "37016", "37016", "A-17", "1e999", "nan", "True"]


def test_declared_ranges_of_the_deal_tables():
    rules = {rule.column: rule for rule in DEALS.rules}
    fetched = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules["commitment_year"].problem(1948, fetched) == "outside 1949..2100"
    assert rules["commitment_year"].problem(2021, fetched) is None
    assert rules["amount_usd"].problem(-1.0, fetched).startswith("outside 0..")
    assert rules["signing_date"].problem(date(2026, 6, 1), fetched).startswith("in the future")


def test_a_sheet_the_reader_cannot_get_through_fails_naming_the_row():
    body = with_sheet_edited(lambda xml: xml.replace(b"Islamabad", b"Islam\xe9bad", 1))  # latin-1 in UTF-8 XML
    with pytest.raises(SourceFormatError, match=r"Version_3_0\.zip: the dataset sheet cannot be read after row \d+ "
                                                 r"\(ParseError: not well-formed"):  # fmt: skip
        parse(None, body=body)


# -- calamine reads exactly the records openpyxl reads --------------------------------------------------
OTHER_TYPES = [
    fx.gcdf_record(1, Title="Safe city project", Recipient="Kenya", **{
        "Commitment Year": "2015", "Sector Name": "COMMUNICATIONS", "Funding Agencies": "China Eximbank",
        "Amount (Constant USD 2021)": "1,234.567", "Status": True}),
    fx.gcdf_record(2, Title="Regional data center", Recipient="Africa, regional", **{
        "Commitment Year": 2016.0, "Sector Name": "COMMUNICATIONS", "Funding Agencies": "China Eximbank",
        "Amount (Constant USD 2021)": 0, "Flow Type": 2**40, "Description": " spaced \n text "}),
    {**fx.ISLAMABAD, "AidData Record ID": 3, "Commitment Year": datetime(2010, 12, 1),
     "Amount (Constant USD 2021)": 1e300, "Status": datetime(2010, 12, 1, 13, 5),
     "Flow Type": 10**16 - 1, "Sector Name": 1e16},
    {**fx.ISLAMABAD, "AidData Record ID": "A-4", "Commitment Year": 2010.5, "Amount (Constant USD 2021)": -0.25},
    {**fx.ROAD, "AidData Record ID": " "},  # no record id: skipped by both
]  # fmt: skip


def openpyxl_reference(workbook: bytes) -> tuple[str, list[dict[str, object]]]:
    """The records as the parser read them with openpyxl before calamine (read-only, values only)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(workbook), read_only=True, data_only=True)
    try:
        name = next(s for s in book.sheetnames if s.startswith("GCDF_"))
        sheet = book[name]
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        positions = {" ".join(str(h).split()): i for i, h in enumerate(next(rows)) if h is not None}
        wanted = {c: positions.get(c) for c in aiddata.REQUIRED_COLUMNS + aiddata.OPTIONAL_COLUMNS}
        records = [{c: row[i] if i is not None and i < len(row) else None for c, i in wanted.items()} for row in rows]
    finally:
        book.close()
    return name.removeprefix("GCDF_"), [r for r in records if r[aiddata.RECORD_ID] not in (None, "", " ")]


def strictly(records: list[dict[str, object]]) -> list[list[tuple[str, str, object]]]:
    return [[(name, type(value).__name__, value) for name, value in record.items()] for record in records]


@pytest.mark.parametrize(
    ("records", "release"),
    [(fx.RELEASE_V1, "3.0"), (fx.RELEASE_V2, "3.1"), (OTHER_TYPES, "3.0")],
    ids=["release-v1", "release-v2", "other-types"],
)
def test_calamine_reads_the_records_openpyxl_reads(records, release, caplog):
    body = fx.release_zip(records, release)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        workbook = archive.read(next(n for n in archive.namelist() if n.endswith(".xlsx")))
    reference = openpyxl_reference(workbook)

    with caplog.at_level("WARNING", logger=aiddata.__name__), aiddata.open_release(body) as (read_release, read):
        ours = (read_release, list(read))

    assert not caplog.records  # calamine read it: no fallback to openpyxl
    assert len(ours[1]) == len([r for r in records if str(r[aiddata.RECORD_ID]).strip()])
    assert (ours[0], strictly(ours[1])) == (reference[0], strictly(reference[1]))


def test_a_sheet_over_the_calamine_budget_is_streamed_by_openpyxl_with_the_same_records(monkeypatch, caplog):
    body = fx.release_zip(OTHER_TYPES)
    with aiddata.open_release(body) as (_, read):
        by_calamine = list(read)
    monkeypatch.setattr(aiddata, "MAX_CALAMINE_XML_BYTES", 1000)

    with caplog.at_level("WARNING", logger=aiddata.__name__), aiddata.open_release(body) as (_, read):
        by_openpyxl = list(read)

    assert any("streaming it with openpyxl" in r.getMessage() for r in caplog.records)
    assert strictly(by_openpyxl) == strictly(by_calamine)
