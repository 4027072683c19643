"""Replay hand-made deal sources into a real PostgreSQL warehouse; the deal risk patterns on real cases.

Cases (tests/helpers/deals_fixtures.py): Islamabad Safe City (Huawei, China Exim Bank) must match
SURVEILLANCE_VENDOR, BIOMETRIC_POPULATION and PRC_FINANCE; the Nairobi-Mombasa safe city
(Safaricom prime contractor, Huawei technology, Kenyan money) SURVEILLANCE_VENDOR but not
PRC_FINANCE; Mexico City's C5 (Thales) nothing.
"""

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dsrwatch.sources import gdelt_leads, worldbank_contracts

from helpers import deals_fixtures as fx
from helpers.db import query, scalar
from helpers.runs import load_source

pytestmark = pytest.mark.integration

PATTERN_DIR = Path(__file__).resolve().parents[2] / "sql" / "risk_patterns"
DEAL_PATTERNS = ("SURVEILLANCE_VENDOR", "BIOMETRIC_POPULATION", "SECURITY_END_USER", "PRC_FINANCE")
ISLAMABAD, NAIROBI, MEXICO, KONZA, BANGLADESH = ("aiddata:37016", "aiddata:90001", "aiddata:90002", "aiddata:59366",
                                                 "aiddata:52654")  # fmt: skip
NOW = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


@pytest.fixture
def replay(replay_into):
    return replay_into


def load_aiddata(replay, records, release="3.0", name="aiddata-v1"):
    replay(name, lambda root: fx.write_aiddata_replay(root, records, release))
    return load_source("aiddata")


def run_patterns(url: str) -> dict[str, dict[str, tuple[str | None, dict]]]:
    """Each deal pattern's matches: {pattern: {entity_id: (severity, evidence)}}."""
    results = {}
    with psycopg.connect(url) as conn:
        for pattern in DEAL_PATTERNS:
            text = (PATTERN_DIR / f"{pattern}.sql").read_text().strip().rstrip(";")
            rows = conn.execute(
                sql.SQL("SELECT entity_kind, entity_id, severity, evidence FROM ({}\n) AS q").format(sql.SQL(text))
            ).fetchall()
            assert all(kind == "deal" and "reason" in evidence for kind, _, _, evidence in rows), pattern
            results[pattern] = {entity: (severity, evidence) for _, entity, severity, evidence in rows}
    return results


# -- AidData ------------------------------------------------------------------------------------
def test_aiddata_replay_fills_deals_and_views(warehouse, replay):
    fx.seed_prc_registry(warehouse)
    summary = load_aiddata(replay, fx.RELEASE_V1)
    assert (summary.status, summary.entities, summary.added, summary.is_baseline) == ("succeeded", 6, 6, True)
    row = query(warehouse, """SELECT title, recipient_iso3, buyers, vendors, contractors, financiers, prc_parties,
                                     components, component_words -> 'face_recognition', commitment_year, release
                                FROM analyst.deals WHERE entity_id = %s""", (ISLAMABAD,))[0]  # fmt: skip
    assert row[1] == "PAK" and row[9] == 2010 and row[10] == "3.0"
    assert row[2] == ["Government of Pakistan", "Islamabad Capital Territory Police", "Pakistan Ministry of Interior"]
    assert row[3] == ["Huawei Technologies Co., Ltd."] and row[4] == []
    assert row[5] == ["Export-Import Bank of China"]
    assert row[6] == ["Export-Import Bank of China (financier)", "Huawei Technologies Co., Ltd. (vendor)"]
    assert row[7] == ["cctv", "command_centre", "face_recognition", "licence_plate_recognition", "mobile_network",
                      "police_security", "safe_city"]  # fmt: skip
    assert row[8] == ["face recognition"]
    nairobi = query(warehouse, "SELECT vendors, contractors, financiers FROM analyst.deals WHERE entity_id = %s", (NAIROBI,))
    assert nairobi == [(["Huawei Technologies Co., Ltd."], ["Safaricom PLC"], ["Government of Kenya"])]
    # government data hosting, written into the shared table under this source's scope
    hosting = query(warehouse, """SELECT entity_id, government_body, body_type, country_iso3 FROM core.government_hosting
                                   WHERE source = 'aiddata' ORDER BY 1, 2""")  # fmt: skip
    assert hosting == [
        (BANGLADESH, "Bangladesh Computer Council", "government", "BGD"),
        (KONZA, "Kenya Ministry of Information, Communications and Technology", "government", "KEN"),
        (KONZA, "Konza Technopolis Development Authority", "government", "KEN"),
    ]
    # risk contributions follow the README contract
    entity = query(warehouse, "SELECT * FROM risk.entities__deal WHERE entity_id = %s", (ISLAMABAD,))[0]
    assert entity[:2] == ("deal", ISLAMABAD) and entity[3:] == (
        "deals", "aiddata", ["PAK"], 2010, "https://www.example.org/islamabad-safe-city", True)
    assert scalar(warehouse, "SELECT count(*) FROM risk.parties__deal WHERE entity_id = %s", (ISLAMABAD,)) == 5


def test_deal_patterns_on_real_cases(warehouse, replay):
    fx.seed_prc_registry(warehouse)
    load_aiddata(replay, fx.RELEASE_V1)
    matches = run_patterns(warehouse)
    # Islamabad Safe City: Huawei builds it, China Exim Bank lends, face and plate recognition, police buyer
    for pattern in ("SURVEILLANCE_VENDOR", "BIOMETRIC_POPULATION", "PRC_FINANCE", "SECURITY_END_USER"):
        assert ISLAMABAD in matches[pattern], pattern
    assert matches["PRC_FINANCE"][ISLAMABAD][0] == "high"  # a policy bank
    assert matches["PRC_FINANCE"][ISLAMABAD][1]["reason"] == "financed by Export-Import Bank of China (China Eximbank) (policy-bank)"
    assert matches["SURVEILLANCE_VENDOR"][ISLAMABAD][1]["reason"].startswith(
        "surveillance system (cctv, command_centre, face_recognition, licence_plate_recognition, police_security, "
        "safe_city) built or integrated by PRC-linked Huawei Technologies Co., Ltd. (vendor)")
    assert matches["SECURITY_END_USER"][ISLAMABAD][0] is None  # named buyer: the header's severity
    # Nairobi-Mombasa: Safaricom prime contractor with Huawei technology, Kenyan money
    assert NAIROBI in matches["SURVEILLANCE_VENDOR"]
    assert NAIROBI not in matches["PRC_FINANCE"]
    assert NAIROBI not in matches["BIOMETRIC_POPULATION"]
    # Mexico City C5 by Thales: a surveillance system without a PRC link matches nothing
    assert all(MEXICO not in found for found in matches.values())
    # Konza (smart city, safe city, Exim) and the Bangladesh data centre (ZTE, Exim, Sinosure)
    assert {KONZA, BANGLADESH} <= set(matches["PRC_FINANCE"])
    assert KONZA in matches["SURVEILLANCE_VENDOR"] and BANGLADESH not in matches["SURVEILLANCE_VENDOR"]
    sinosure = matches["PRC_FINANCE"][BANGLADESH][1]["financiers"]
    assert {f["organisation_id"] for f in sinosure} == {"china-exim-bank", "sinosure"}


def test_risk_engine_flags_the_deals(warehouse, replay):
    from dsrwatch.risk import engine
    fx.seed_prc_registry(warehouse)
    load_aiddata(replay, fx.RELEASE_V1)
    engine.evaluate()
    flags = query(warehouse, """SELECT entity_id, array_agg(pattern_id ORDER BY pattern_id) FROM risk.flags
                                 WHERE entity_kind = 'deal' AND resolved_at IS NULL GROUP BY 1""")  # fmt: skip
    flagged = dict(flags)
    assert {"SURVEILLANCE_VENDOR", "BIOMETRIC_POPULATION", "PRC_FINANCE"} <= set(flagged[ISLAMABAD])
    assert "SURVEILLANCE_VENDOR" in flagged[NAIROBI] and "PRC_FINANCE" not in flagged[NAIROBI]
    assert MEXICO not in flagged  # no pattern at all, the generic ones included
    assert query(warehouse, "SELECT DISTINCT is_baseline FROM risk.flags WHERE entity_kind = 'deal'") == [(True,)]


def test_second_release_marks_exactly_the_added_records_new(warehouse, replay):
    first = load_aiddata(replay, fx.RELEASE_V1)
    second = load_aiddata(replay, fx.RELEASE_V2, release="3.1", name="aiddata-v2")
    assert (second.added, second.removed, second.is_baseline) == (2, 0, False)
    changes = query(warehouse, """SELECT entity_key, change, changed_columns FROM core.entity_changes
                                   WHERE entity_table = 'core.deals' AND run_id = %s""", (second.run_id,))  # fmt: skip
    added = {key.split("|")[1] for key, change, _ in changes if change == "added"}
    assert added == fx.ADDED_V2
    # every record still present is modified by the new release label only
    modified = {key.split("|")[1]: columns for key, change, columns in changes if change == "modified"}
    assert set(modified) == fx.KEPT_V1
    assert all(columns == {"release": ["3.0", "3.1"]} for columns in modified.values())
    new_rows = query(warehouse, """SELECT deal_id FROM analyst.deals
                                    WHERE first_seen_at > (SELECT finished_at FROM ops.source_runs WHERE run_id = %s)
                                    ORDER BY 1""", (first.run_id,))  # fmt: skip
    assert {r[0] for r in new_rows} == fx.ADDED_V2
    # their parties and components arrive with them
    assert scalar(warehouse, """SELECT count(*) FROM core.entity_changes WHERE run_id = %s
                                 AND entity_table = 'core.deal_parties' AND change = 'added'""", (second.run_id,)) > 0


def test_a_record_leaving_the_release_is_removed_with_its_parties(warehouse, replay):
    load_aiddata(replay, fx.RELEASE_V1)
    without_konza = [r for r in fx.RELEASE_V1 if r is not fx.KONZA]
    summary = load_aiddata(replay, without_konza, name="aiddata-fewer")
    assert summary.removed == 1
    assert query(warehouse, "SELECT removed_at IS NOT NULL FROM analyst.deals WHERE entity_id = %s", (KONZA,)) == [(True,)]
    assert scalar(warehouse, """SELECT count(*) FROM core.deal_parties WHERE deal_id = '59366'
                                 AND removed_at IS NULL""") == 0  # fmt: skip
    assert scalar(warehouse, """SELECT count(*) FROM core.government_hosting WHERE entity_id = %s
                                 AND removed_at IS NULL""", (KONZA,)) == 0  # fmt: skip


# -- World Bank: incremental, and scoped against AidData in the shared tables -----------------
def test_worldbank_incremental_cursor_and_scope(warehouse, replay, monkeypatch):
    monkeypatch.setattr(worldbank_contracts, "PAGE_SIZE", 4)
    load_aiddata(replay, fx.RELEASE_V1)
    replay("wb-1", lambda root: fx.write_worldbank_replay(root, fx.WB_ROWS, page_size=4))
    first = load_source("worldbank_contracts")
    assert (first.status, first.entities, first.added, first.requests) == ("succeeded", len(fx.WB_KEPT), len(fx.WB_KEPT), 3)
    cursor = scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'worldbank_contracts'")
    assert cursor == {"max_signing_date": "2021-03-28"}
    assert scalar(warehouse, "SELECT count(*) FROM analyst.deals WHERE source = 'aiddata' AND removed_at IS NULL") == 6
    # next week: only contracts signed since the cursor minus the overlap are asked for; one is new
    since = worldbank_contracts.query_start(cursor)
    newer = fx.wb_row("1700009", "2021-06-01", "ZTE CORPORATION", "China", "NATIONAL ID CARD PERSONALISATION SYSTEM",
                      "Ethiopia", "ET", 4000000)  # fmt: skip
    replay("wb-2", lambda root: fx.write_worldbank_replay(root, [fx.WB_ROWS[0], newer], since=since, page_size=4))
    second = load_source("worldbank_contracts")
    assert (second.added, second.modified, second.removed) == (1, 0, 0)  # incremental: nothing removed
    assert scalar(warehouse, "SELECT count(*) FROM analyst.deals WHERE source = 'worldbank_contracts' AND removed_at IS NULL") == 6
    assert scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'worldbank_contracts'") == {
        "max_signing_date": "2021-06-01"}
    # an AidData reload without a record removes only that AidData deal, never World Bank rows
    load_aiddata(replay, [r for r in fx.RELEASE_V1 if r is not fx.SMART_CLASSROOM], name="aiddata-fewer")
    present = dict(query(warehouse, """SELECT source, count(*) FROM core.deals WHERE removed_at IS NULL
                                        GROUP BY source"""))  # fmt: skip
    assert present == {"aiddata": 5, "worldbank_contracts": 6}
    hosting = query(warehouse, "SELECT source, entity_id, government_body FROM core.government_hosting "
                               "WHERE source = 'worldbank_contracts' AND removed_at IS NULL")  # fmt: skip
    assert hosting == [("worldbank_contracts", "worldbank_contracts:1700004", "Government of Kenya")]


def test_worldbank_cursor_stuck_in_the_future_is_repaired_by_a_full_read(warehouse, replay, monkeypatch, caplog):
    """Before dates were checked, one contract "signed" 9999-12-31 became the cursor and every later
    run asked for contracts signed after 9997-12-31: nothing, forever. Such a cursor forces a full read,
    and a future date never becomes the cursor again."""
    monkeypatch.setattr(worldbank_contracts, "PAGE_SIZE", 4)
    replay("wb-1", lambda root: fx.write_worldbank_replay(root, fx.WB_ROWS, page_size=4))
    load_source("worldbank_contracts")
    with psycopg.connect(warehouse) as conn:
        conn.execute("""UPDATE ops.source_cursors SET cursor = '{"max_signing_date": "9999-12-31"}'
                         WHERE source = 'worldbank_contracts'""")  # fmt: skip
    newer = fx.wb_row("1700009", "2021-06-01", "ZTE CORPORATION", "China", "NATIONAL ID CARD PERSONALISATION SYSTEM",
                      "Ethiopia", "ET", 4000000)  # fmt: skip
    future = fx.wb_row("1700011", "9999-12-31", "HUAWEI INTERNATIONAL CO. LIMITED", "China",
                       "GOVERNMENT DATA CENTER", "Ghana", "GH", 1000000)  # fmt: skip
    # everything again: the pages without a signing-date filter (a since= read would find no file)
    replay("wb-2", lambda root: fx.write_worldbank_replay(root, [*fx.WB_ROWS, newer, future], page_size=4))
    summary = load_source("worldbank_contracts")
    assert (summary.status, summary.added) == ("succeeded", 1)
    assert "max_signing_date 9999-12-31 is ahead of today" in caplog.text
    assert scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'worldbank_contracts'") == {
        "max_signing_date": "2021-06-01"}
    assert query(warehouse, "SELECT record_key, field FROM analyst.quarantined_records WHERE run_id = %s",
                 (summary.run_id,)) == [("worldbank_contracts|1700011", "signing_date")]  # fmt: skip
    assert worldbank_contracts.query_start({"max_signing_date": "2021-06-01"}).isoformat() == "2019-06-02"


# -- GDELT: leads linked to the deals in the warehouse (analyst.news_leads) ---------------------------
def load_leads(replay, monkeypatch, articles, name="gdelt"):
    """One week of GDELT answers: ``articles`` answer the safe_city query, the others find nothing."""
    monkeypatch.setattr(gdelt_leads, "utc_now", lambda: NOW)
    windows = gdelt_leads.windows(None, NOW)
    replay(name, lambda root: fx.write_gdelt_replay(root, {"safe_city": articles}, windows))
    return load_source("gdelt_leads")


def lead_links(url: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(url, "SELECT url, linked_deal_id, link_confidence, link_reason FROM analyst.news_leads")}


def test_gdelt_leads_are_linked_to_loaded_deals(warehouse, replay, monkeypatch):
    load_aiddata(replay, fx.RELEASE_V1)
    monkeypatch.setattr(gdelt_leads, "utc_now", lambda: NOW)
    windows = gdelt_leads.windows(None, NOW)
    high = fx.article("https://news.example.co.ke/cctv", "Kenya extends Huawei safe city CCTV cameras",
                      "20260107T081500Z", "news.example.co.ke", "Kenya")  # fmt: skip
    answers = {"safe_city": [high, fx.LEAD_UNRELATED], "surveillance": [fx.LEAD_ISLAMABAD_PUBLISHER, high]}
    replay("gdelt", lambda root: fx.write_gdelt_replay(root, answers, windows))
    summary = load_source("gdelt_leads")
    assert (summary.status, summary.entities, summary.requests) == ("succeeded", 3, 3)
    leads = dict((r[0], r[1:]) for r in query(warehouse, """
        SELECT url, linked_deal_id, linked_deal_title, link_confidence, queries FROM analyst.news_leads"""))
    assert leads[high["url"]][:3] == (NAIROBI, fx.NAIROBI_MOMBASA["Title"], "high")
    assert leads[high["url"]][3] == ["safe_city", "surveillance"]
    assert leads[fx.LEAD_ISLAMABAD_PUBLISHER["url"]][0] == ISLAMABAD
    assert leads[fx.LEAD_ISLAMABAD_PUBLISHER["url"]][2] == "medium"
    assert leads[fx.LEAD_UNRELATED["url"]][0] is None
    # leads stay leads: nothing was added to the deals
    assert scalar(warehouse, "SELECT count(*) FROM core.deals") == 6
    assert scalar(warehouse, "SELECT cursor FROM ops.source_cursors WHERE source = 'gdelt_leads'") == {
        "window_end": "20260112000000"}


# The linking rule, case by case: (headline, publisher's country) -> (deal, confidence, reason), with
# the fixture deals: Nairobi-Mombasa (KEN 2014) and Konza (KEN 2019) both Huawei safe cities,
# Islamabad (PAK 2010) with face recognition.
LINK_CASES = [
    # high: the country is named in the headline and one deal is best (Nairobi shares cctv too)
    ("Kenya extends Huawei safe city CCTV cameras beyond Nairobi", "United States", NAIROBI, "high",
     "country KEN (named in the headline), vendor huawei-technologies, components cctv, safe_city"),
    # medium: several deals match equally well, the latest is chosen
    ("Kenya: Huawei to expand safe city programme", "United States", KONZA, "medium",
     "country KEN (named in the headline), vendor huawei-technologies, components safe_city; "
     "2 deals match equally well, the latest chosen"),
    # medium: the country comes only from the publisher
    ("Huawei face recognition cameras spread in the capital", "Pakistan", ISLAMABAD, "medium",
     "country PAK (the publisher's country), vendor huawei-technologies, components face_recognition"),
    # low: the publisher's country and a tie
    ("Huawei safe city deal questioned", "Kenya", KONZA, "low",
     "country KEN (the publisher's country), vendor huawei-technologies, components safe_city; "
     "2 deals match equally well, the latest chosen"),
    # no link without country, vendor and component all matching
    ("Huawei launches a new phone in Kenya", "Kenya", None, None, None),  # no component
    ("Kenya buys safe city cameras from Hikvision", "Kenya", None, None, None),  # vendor in no Kenyan deal
    ("Huawei safe city for Zambia", "United Kingdom", None, None, None),  # no deal in that country
    ("Kenya police get new safe city vehicles", "Kenya", None, None, None),  # no PRC-linked organisation named
    ("Huawei and Kenya police", "Kenya", None, None, None),  # context tags alone (police_security) do not link
]  # fmt: skip


def test_the_lead_linking_rule_case_by_case(warehouse, replay, monkeypatch):
    load_aiddata(replay, fx.RELEASE_V1)
    articles = [fx.article(f"https://x.example/{n}", title, "20260106T000000Z", "x.example", country)
                for n, (title, country, *_) in enumerate(LINK_CASES)]  # fmt: skip
    assert load_leads(replay, monkeypatch, articles).entities == len(LINK_CASES)
    links = lead_links(warehouse)
    for n, (title, _, deal, confidence, reason) in enumerate(LINK_CASES):
        assert links[f"https://x.example/{n}"] == (deal, confidence, reason), title


def test_a_lead_links_to_the_deals_present_when_the_view_is_read(warehouse, replay, monkeypatch):
    """Linking is the view's: a deal loaded after the lead links to it, and a deal that left its
    source no longer does (the next best one does)."""
    lead = fx.article("https://news.example.co.ke/cctv", "Kenya extends Huawei safe city CCTV cameras",
                      "20260107T081500Z", "news.example.co.ke", "Kenya")  # fmt: skip
    load_leads(replay, monkeypatch, [lead])
    assert lead_links(warehouse)[lead["url"]] == (None, None, None)  # no deal known yet
    load_aiddata(replay, fx.RELEASE_V1)
    assert lead_links(warehouse)[lead["url"]] == (
        NAIROBI, "high", "country KEN (named in the headline), vendor huawei-technologies, components cctv, safe_city")
    load_aiddata(replay, [r for r in fx.RELEASE_V1 if r is not fx.NAIROBI_MOMBASA], name="aiddata-without-nairobi")
    assert lead_links(warehouse)[lead["url"]] == (
        KONZA, "high", "country KEN (named in the headline), vendor huawei-technologies, components safe_city")
    assert query(warehouse, "SELECT linked_deal_title FROM analyst.news_leads") == [(fx.KONZA["Title"],)]
