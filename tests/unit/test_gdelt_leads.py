"""GDELT DOC 2.0 leads: weekly windows, politeness and back-off against a real local HTTP server
(waits recorded by an injected sleep, never slept), GDELT's plain-text rate-limit notice, the
parser, and the lead-linking rule."""

import json
import re
from datetime import UTC, datetime

import pytest

from dsrwatch.fetching import FatalFetchError, Fetcher, RetryableFetchError, build_url, url_to_relative_path
from dsrwatch.sources import gdelt_leads as gd
from dsrwatch.validation import _first_per_entity
from dsrwatch.warehouse.raw import RawPayload

from helpers import deals_fixtures as fx
from helpers.http_server import Answer

NOTICE = b"Please limit requests to one every 5 seconds or contact kalev.leetaru5@gmail.com for larger queries."
NOW = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)  # a Monday morning
ONE_WEEK = {"window_end": "20260105000000"}


def answer(articles):
    return Answer(200, {"Content-Type": "application/json"}, json.dumps({"articles": articles}).encode())


# -- windows and URLs ------------------------------------------------------------------------------
def test_first_run_takes_the_last_full_week():
    assert gd.windows(None, NOW) == [(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))]


def test_missed_weeks_are_caught_up_week_by_week_within_the_api_horizon():
    spans = gd.windows({"window_end": "20251222000000"}, NOW)
    assert [(s.day, e.day) for s, e in spans] == [(22, 29), (29, 5), (5, 12)]
    assert gd.windows({"window_end": "20260112000000"}, NOW) == []  # already up to date
    far = gd.windows({"window_end": "20200101000000"}, NOW)
    assert len(far) == gd.MAX_WINDOWS and far[-1][1] == datetime(2026, 1, 12, tzinfo=UTC)


def test_request_urls_and_replay_file_names():
    start, end = gd.windows(None, NOW)[0]
    url = build_url(gd.API_URL, gd.query_params(gd.QUERIES["safe_city"], start, end))
    assert url.startswith("https://api.gdeltproject.org/api/v2/doc/doc?query=(%22safe+city%22")
    assert url.endswith("&mode=artlist&format=json&maxrecords=250&startdatetime=20260105000000&enddatetime=20260112000000")
    for query in gd.QUERIES.values():
        name = url_to_relative_path(build_url(gd.API_URL, gd.query_params(query, start, end))).name
        assert len(name.encode()) < 255, query


def test_politeness_and_backoff_are_declared_on_the_source():
    assert gd.SOURCE.politeness_delay == 5.0
    assert gd.SOURCE.fetcher_options == {"backoff_base": 10.0}


# -- live fetching against a real local server ----------------------------------------------------------
@pytest.fixture
def live(server, monkeypatch):
    """A live Fetcher configured like the DAG's (SourceSpec delay and options), pointed at the local
    server, recording every wait instead of sleeping."""
    monkeypatch.delenv("DSR_POLITENESS_DELAY", raising=False)  # the suite's default of 0 would hide the delay
    monkeypatch.setattr(gd, "API_URL", server.url("/api/v2/doc/doc"))
    monkeypatch.setattr(gd, "utc_now", lambda: NOW)
    sleeps: list[float] = []
    fetcher = Fetcher(replay_dirs=[], record_dir=None, politeness_delay=gd.SOURCE.politeness_delay,
                      sleep=sleeps.append, **gd.SOURCE.fetcher_options)  # fmt: skip
    yield fetcher, sleeps
    fetcher.close()


def test_one_request_per_5_seconds_and_backoff_on_429_and_on_the_notice(live, server):
    fetcher, sleeps = live
    server.script(
        "/api/v2/doc/doc",
        Answer(429, {"Content-Type": "text/plain"}, NOTICE),  # the fetch layer backs off from 10 s
        Answer(200, {"Content-Type": "text/plain"}, NOTICE),  # the source backs off from 10 s too
        answer([fx.LEAD_NAIROBI]),
        answer([fx.LEAD_UNRELATED]),
        Answer(200, {"Content-Type": "application/json"}, b"{}"),
    )
    responses = list(gd.fetch(fetcher, ONE_WEEK))
    assert len(responses) == len(gd.QUERIES) and len(server.requests) == 5
    # 10 s back-off after the 429, 5 s politeness, 10 s after the notice, then 5 s between queries
    assert [round(s) for s in sleeps] == [10, 5, 10, 5, 5, 5]
    assert all(s >= 4.9 for s in sleeps)
    assert json.loads(responses[0].body)["articles"][0]["url"] == fx.LEAD_NAIROBI["url"]
    assert server.requests[0].header("User-Agent").startswith("DSRWatch/")


def test_a_notice_that_never_stops_is_a_retryable_error(live, server):
    fetcher, sleeps = live
    server.script("/api/v2/doc/doc", Answer(200, {"Content-Type": "text/plain"}, NOTICE))
    with pytest.raises(RetryableFetchError, match=r"rate-limit notice after 5 tries: 'Please limit requests"):
        list(gd.fetch(fetcher, ONE_WEEK))
    assert [round(s) for s in sleeps if s > 6] == [10, 20, 40, 80]


def test_a_persistent_429_is_a_retryable_error(live, server):
    fetcher, sleeps = live
    server.script("/api/v2/doc/doc", Answer(429, {"Content-Type": "text/plain"}, NOTICE))
    with pytest.raises(RetryableFetchError, match="HTTP 429"):
        list(gd.fetch(fetcher, ONE_WEEK))
    assert [round(s) for s in sleeps if s > 6] == [10, 20, 40, 80]


def test_another_plain_text_answer_is_fatal_and_quoted(live, server):
    fetcher, _ = live
    server.script("/api/v2/doc/doc", Answer(200, {"Content-Type": "text/plain"}, b"The specified phrase is too short."))
    with pytest.raises(FatalFetchError, match="plain text instead of JSON.*phrase is too short"):
        list(gd.fetch(fetcher, ONE_WEEK))


def test_a_recorded_notice_in_replay_is_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(gd, "utc_now", lambda: NOW)
    start, end = gd.windows(ONE_WEEK)[0]
    target = tmp_path / url_to_relative_path(build_url(gd.API_URL, gd.query_params(gd.QUERIES["safe_city"], start, end)))
    target.parent.mkdir(parents=True)
    target.write_bytes(NOTICE)
    fetcher = Fetcher(replay_dirs=[tmp_path], record_dir=None)
    with pytest.raises(FatalFetchError, match="the recording is GDELT's rate-limit notice"):
        list(gd.fetch(fetcher, ONE_WEEK))


# -- parse -------------------------------------------------------------------------------------
def payload(query_key, articles, start="20260105000000", end="20260112000000"):
    params = {"query": gd.QUERIES[query_key], "mode": "artlist", "format": "json", "maxrecords": 250,
              "startdatetime": start, "enddatetime": end}  # fmt: skip
    body = json.dumps({"articles": articles}).encode() if articles is not None else b"{}"
    return RawPayload(build_url(gd.API_URL, params), body)


def lead_rows(batch):
    columns = gd.NEWS_LEADS.all_columns
    return {r[0]: dict(zip(columns, (getattr(v, "obj", v) for v in r), strict=True)) for r in batch.rows["core.news_leads"]}


def test_parse_merges_queries_and_classifies_headlines():
    batch = gd.parse([payload("safe_city", [fx.LEAD_NAIROBI, fx.LEAD_UNRELATED]),
                      payload("surveillance", [fx.LEAD_NAIROBI]), payload("government_data", None)],
                     candidates=[])  # fmt: skip
    leads = lead_rows(batch)
    assert set(leads) == {fx.LEAD_NAIROBI["url"], fx.LEAD_UNRELATED["url"]}
    nairobi = leads[fx.LEAD_NAIROBI["url"]]
    assert nairobi["queries"] == ["safe_city", "surveillance"]
    assert nairobi["seen_at"] == datetime(2026, 1, 7, 8, 15, tzinfo=UTC)
    assert (nairobi["domain"], nairobi["language"], nairobi["source_country"], nairobi["source_country_iso3"]) == (
        "news.example.co.ke", "English", "Kenya", "KEN")
    assert nairobi["vendor_ids"] == ["huawei-technologies"] and nairobi["countries"] == ["KEN"]
    assert nairobi["tags"] == {"safe_city": ["safe city"]}
    assert nairobi["linked_deal_id"] is None  # no known deals given
    assert batch.cursor == {"window_end": "20260112000000"} and batch.complete is False
    assert list(batch.rows) == ["core.news_leads"]  # leads never become deals


def test_parse_tolerates_control_characters_and_reports_full_answers():
    raw = (b'{"articles": [{"url": "https://x.example/a", "url_mobile": "", "title": "Huawei\tsafe city", '
           b'"seendate": "20260106T000000Z", "socialimage": "", "domain": "x.example", "language": "English", '
           b'"sourcecountry": "Kenya"}]}')
    batch = gd.parse([RawPayload(payload("safe_city", []).url, raw)], candidates=[])
    assert batch.entities == 1
    many = [fx.article(f"https://x.example/{i}", "t", "20260106T000000Z", "x.example", "Kenya") for i in range(250)]
    assert any("hit maxrecords=250" in w for w in gd.parse([payload("safe_city", many)], candidates=[]).warnings)


def test_parse_rejects_a_recorded_notice():
    with pytest.raises(Exception, match="rate-limit notice"):
        gd.parse([RawPayload(payload("safe_city", []).url, NOTICE)], candidates=[])


# -- the linking rule ----------------------------------------------------------------------------------
NAIROBI_DEAL = gd.LinkCandidate("aiddata:90001", "KEN", 2014, frozenset({"huawei-technologies", "safaricom"}),
                                frozenset({"safe_city", "cctv", "command_centre", "mobile_network", "police_security"}))
KONZA_DEAL = gd.LinkCandidate("aiddata:59366", "KEN", 2019, frozenset({"huawei-technologies", "china-exim-bank"}),
                              frozenset({"data_centre", "cloud", "e_government", "safe_city", "smart_city"}))
ISLAMABAD_DEAL = gd.LinkCandidate("aiddata:37016", "PAK", 2010, frozenset({"huawei-technologies", "china-exim-bank"}),
                                  frozenset({"safe_city", "cctv", "face_recognition", "police_security"}))
DEALS = [NAIROBI_DEAL, KONZA_DEAL, ISLAMABAD_DEAL]


def lead(title, source_country="United States"):
    result = gd.parse([payload("safe_city", [fx.article("https://x.example/1", title, "20260106T000000Z",
                                                         "x.example", source_country)])], candidates=DEALS)  # fmt: skip
    row = lead_rows(result)["https://x.example/1"]
    return row["linked_deal_id"], row["link_confidence"], row["link_reason"]


def test_high_when_country_is_in_the_headline_and_one_deal_is_best():
    deal, confidence, reason = lead("Kenya extends Huawei safe city CCTV cameras beyond Nairobi")
    assert (deal, confidence) == ("aiddata:90001", "high")
    assert reason == "country KEN (named in the headline), vendor huawei-technologies, components cctv, safe_city"


def test_medium_when_several_deals_match_equally_the_latest_is_chosen():
    deal, confidence, reason = lead("Kenya: Huawei to expand safe city programme")
    assert (deal, confidence) == ("aiddata:59366", "medium")
    assert "2 deals match equally well" in reason


def test_medium_when_the_country_comes_only_from_the_publisher():
    deal, confidence, reason = lead("Huawei face recognition cameras spread in the capital", "Pakistan")
    assert (deal, confidence) == ("aiddata:37016", "medium")
    assert "the publisher's country" in reason


def test_low_when_publisher_country_and_a_tie():
    assert lead("Huawei safe city deal questioned", "Kenya")[:2] == ("aiddata:59366", "low")


@pytest.mark.parametrize(
    ("title", "source_country"),
    [
        ("Huawei launches a new phone in Kenya", "Kenya"),  # no component
        ("Kenya buys safe city cameras from Hikvision", "Kenya"),  # vendor not in any Kenyan deal
        ("Huawei safe city for Zambia", "United Kingdom"),  # no deal in that country
        ("Kenya police get new safe city vehicles", "Kenya"),  # no PRC-linked organisation named
    ],
)
def test_no_link_without_country_vendor_and_component(title, source_country):
    assert lead(title, source_country) == (None, None, None)


def test_context_tags_alone_do_not_link():
    only_police = gd.Lead("u", "Huawei and Kenya police", None, None, None, "Kenya", "KEN",
                          vendor_ids=["huawei-technologies"], tags={"police_security": ["police"]}, countries=["KEN"])
    assert gd.link_lead(only_police, DEALS) is None


# -- bad articles: set aside, the rest of the answer loads --------------------------------------------
@pytest.mark.parametrize(
    ("bad", "record_key", "message"),
    [
        (["https://x.example/a"], "safe_city 20260105000000-20260112000000 article #2",
         "expected an object per article, got list"),
        ({"title": "Huawei safe city", "seendate": "20260106T000000Z"},
         "safe_city 20260105000000-20260112000000 article #2", r"missing field\(s\) \['url'\]"),
        ({**fx.LEAD_UNRELATED, "url": 17}, "safe_city 20260105000000-20260112000000 article #2", "url 17 is not a link"),
        ({**fx.LEAD_UNRELATED, "seendate": "yesterday"}, fx.LEAD_UNRELATED["url"],
         "seendate 'yesterday' is not GDELT's YYYYMMDDTHHMMSSZ"),
        ({k: v for k, v in fx.LEAD_UNRELATED.items() if k != "seendate"}, fx.LEAD_UNRELATED["url"],
         r"missing field\(s\) \['seendate'\]"),
        ({**fx.LEAD_UNRELATED, "title": {"en": "Huawei"}}, fx.LEAD_UNRELATED["url"], "title: expected text, got dict"),
    ],
)  # fmt: skip
def test_an_article_that_cannot_be_read_is_set_aside(bad, record_key, message):
    batch = gd.parse([payload("safe_city", [fx.LEAD_NAIROBI, bad]), payload("surveillance", [fx.LEAD_NAIROBI])],
                     candidates=[])  # fmt: skip
    assert set(lead_rows(batch)) == {fx.LEAD_NAIROBI["url"]}  # the rest loads
    (record,) = batch.set_aside
    assert (record.table, record.record_key) == ("core.news_leads", record_key)
    assert record.entity_key == ((record_key,) if record_key.startswith("https://") else None)
    assert re.search(message, record.reason), record.reason
    assert record.url == payload("safe_city", []).url


def test_an_article_broken_in_two_answers_is_set_aside_once():
    bad = {**fx.LEAD_UNRELATED, "seendate": "soon"}
    batch = gd.parse([payload("safe_city", [bad]), payload("surveillance", [bad, fx.LEAD_NAIROBI])], candidates=[])
    assert [r.record_key for r in _first_per_entity(batch.set_aside)] == [fx.LEAD_UNRELATED["url"]]


def test_a_seendate_after_the_fetch_is_refused_by_the_declared_rule():
    (rule,) = gd.NEWS_LEADS.rules
    fetched = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
    assert rule.column == "seen_at"
    assert rule.problem(datetime(2099, 1, 1, tzinfo=UTC), fetched).startswith("in the future")
    assert rule.problem(datetime(2026, 1, 7, tzinfo=UTC), fetched) is None


def test_a_run_without_one_readable_article_sets_each_aside():
    """A quiet week may list one bad article: no format error (a failed run would read the window again);
    a changed format sets aside every article, which the set-aside share turns into a quarantine."""
    batch = gd.parse([payload("safe_city", [1, 2])], candidates=[])
    assert batch.entities == 0 and len(batch.set_aside) == 2
    assert gd.parse([payload("safe_city", None)], candidates=[]).entities == 0  # "no matches" is not an error


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"articles": [{"url": "https://x.exa', r"not valid JSON"),
        (b"<html><body>502 Bad Gateway</body></html>", r"not valid JSON"),
        (b'[{"url": "https://x.example/a"}]', r"expected a JSON object with 'articles', got list"),
        (b'{"articles": {"url": "https://x.example/a"}}', r"'articles' is not a list"),
    ],
)  # fmt: skip
def test_an_answer_that_is_not_gdelt_json_fails_naming_the_url(body, message):
    with pytest.raises(Exception, match=message) as caught:
        gd.parse([RawPayload(payload("safe_city", []).url, body)], candidates=[])
    assert "https://api.gdeltproject.org/api/v2/doc/doc?query=" in str(caught.value)
