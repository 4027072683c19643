"""GDELT DOC 2.0 leads: weekly windows, politeness and back-off against a real local HTTP server
(waits recorded by an injected sleep, never slept), GDELT's plain-text rate-limit notice, and the
parser - a pure function of the answers. The lead-linking rule is SQL (analyst.news_leads): its
cases run against a real warehouse in tests/integration/test_deals_load.py."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

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
        Answer(200, {"Content-Type": "text/plain"}, NOTICE),  # retried by the fetch layer, its 2nd back-off
        answer([fx.LEAD_NAIROBI]),
        answer([fx.LEAD_UNRELATED]),
        Answer(200, {"Content-Type": "application/json"}, b"{}"),
    )
    responses = list(gd.fetch(fetcher, ONE_WEEK))
    assert len(responses) == len(gd.QUERIES) and len(server.requests) == 5
    # 10 s back-off after the 429, 5 s politeness, 20 s after the notice (the same request's second
    # retry: 429s and notices share one budget of attempts), then 5 s between queries
    assert [round(s) for s in sleeps] == [10, 5, 20, 5, 5, 5]
    assert all(s >= 4.9 for s in sleeps)
    assert json.loads(responses[0].body)["articles"][0]["url"] == fx.LEAD_NAIROBI["url"]
    assert server.requests[0].header("User-Agent").startswith("DSRWatch/")


def test_a_notice_that_never_stops_is_a_retryable_error(live, server):
    fetcher, sleeps = live
    server.script("/api/v2/doc/doc", Answer(200, {"Content-Type": "text/plain"}, NOTICE))
    with pytest.raises(RetryableFetchError, match=r"GET http://\S+/api/v2/doc/doc\?query=\S+ failed after 5 "
                                                  r"attempts: GDELT's rate-limit notice 'Please limit requests"):
        list(gd.fetch(fetcher, ONE_WEEK))
    assert [round(s) for s in sleeps if s > 6] == [10, 20, 40, 80]
    assert len(server.requests) == 5  # one budget of attempts, not the fetcher's times the source's


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
                      payload("surveillance", [fx.LEAD_NAIROBI]), payload("government_data", None)])  # fmt: skip
    leads = lead_rows(batch)
    assert set(leads) == {fx.LEAD_NAIROBI["url"], fx.LEAD_UNRELATED["url"]}
    nairobi = leads[fx.LEAD_NAIROBI["url"]]
    assert nairobi["queries"] == ["safe_city", "surveillance"]
    assert nairobi["seen_at"] == datetime(2026, 1, 7, 8, 15, tzinfo=UTC)
    assert (nairobi["domain"], nairobi["language"], nairobi["source_country"], nairobi["source_country_iso3"]) == (
        "news.example.co.ke", "English", "Kenya", "KEN")
    assert nairobi["vendor_ids"] == ["huawei-technologies"] and nairobi["countries"] == ["KEN"]
    assert nairobi["tags"] == {"safe_city": ["safe city"]}
    # the parser links nothing (it sees no deals): analyst.news_leads does
    assert (nairobi["linked_deal_id"], nairobi["link_confidence"], nairobi["link_reason"]) == (None, None, None)
    assert batch.cursor == {"window_end": "20260112000000"} and batch.complete is False
    assert list(batch.rows) == ["core.news_leads"]  # leads never become deals


def test_parse_tolerates_control_characters_and_reports_full_answers():
    raw = (b'{"articles": [{"url": "https://x.example/a", "url_mobile": "", "title": "Huawei\tsafe city", '
           b'"seendate": "20260106T000000Z", "socialimage": "", "domain": "x.example", "language": "English", '
           b'"sourcecountry": "Kenya"}]}')
    batch = gd.parse([RawPayload(payload("safe_city", []).url, raw)])
    assert batch.entities == 1
    many = [fx.article(f"https://x.example/{i}", "t", "20260106T000000Z", "x.example", "Kenya") for i in range(250)]
    assert any("hit maxrecords=250" in w for w in gd.parse([payload("safe_city", many)]).warnings)


def test_parse_rejects_a_recorded_notice():
    with pytest.raises(Exception, match="rate-limit notice"):
        gd.parse([RawPayload(payload("safe_city", []).url, NOTICE)])


# -- what linking needs, from the payload alone -------------------------------------------------------
def test_parse_reads_no_warehouse(monkeypatch):
    """Parsing is a pure function of the answers (the pipeline skips a load whose payloads and code
    are unchanged): a lead that would link to a known deal is parsed with no database at hand, and
    keeps what the view links it by - the countries, PRC-linked organisations and components its
    headline names, and the publisher's country."""
    import dsrwatch.warehouse

    def no_database(*args, **kwargs):
        raise AssertionError("gdelt_leads.parse opened a database connection")

    monkeypatch.setattr(dsrwatch.warehouse, "connect", no_database)
    kenya = fx.article("https://x.example/1", "Kenya extends Huawei safe city CCTV cameras beyond Nairobi",
                       "20260106T000000Z", "x.example", "Pakistan")  # fmt: skip
    row = lead_rows(gd.parse([payload("safe_city", [kenya])]))["https://x.example/1"]
    assert (row["countries"], row["vendor_ids"], row["source_country_iso3"]) == (["KEN"], ["huawei-technologies"], "PAK")
    assert row["tags"] == {"cctv": ["cctv cameras"], "safe_city": ["safe city"]}
    assert (row["linked_deal_id"], row["link_confidence"], row["link_reason"]) == (None, None, None)


def test_the_views_context_tags_are_the_taxonomys():
    """analyst.news_leads leaves out context tags when it compares components; its list is the seed's."""
    from dsrwatch.normalise.components import default_taxonomy

    view = (Path(__file__).resolve().parents[2] / "sql" / "views" / "040_deals.sql").read_text()
    listed = re.search(r"WITH context_tags\(tag\) AS \(.*?VALUES (.*?)\n\)", view, re.S)
    assert listed, "analyst.news_leads no longer lists its context tags"
    context = {name for name, tag in default_taxonomy().tags.items() if tag.relevance == "context"}
    assert context and set(re.findall(r"'(\w+)'", listed.group(1))) == context


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
    batch = gd.parse([payload("safe_city", [fx.LEAD_NAIROBI, bad]), payload("surveillance", [fx.LEAD_NAIROBI])])
    assert set(lead_rows(batch)) == {fx.LEAD_NAIROBI["url"]}  # the rest loads
    (record,) = batch.set_aside
    assert (record.table, record.record_key) == ("core.news_leads", record_key)
    assert record.entity_key == ((record_key,) if record_key.startswith("https://") else None)
    assert re.search(message, record.reason), record.reason
    assert record.url == payload("safe_city", []).url


def test_an_article_broken_in_two_answers_is_set_aside_once():
    bad = {**fx.LEAD_UNRELATED, "seendate": "soon"}
    batch = gd.parse([payload("safe_city", [bad]), payload("surveillance", [bad, fx.LEAD_NAIROBI])])
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
    batch = gd.parse([payload("safe_city", [1, 2])])
    assert batch.entities == 0 and len(batch.set_aside) == 2
    assert gd.parse([payload("safe_city", None)]).entities == 0  # "no matches" is not an error


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
        gd.parse([RawPayload(payload("safe_city", []).url, body)])
    assert "https://api.gdeltproject.org/api/v2/doc/doc?query=" in str(caught.value)
