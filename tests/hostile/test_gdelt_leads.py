"""Hostile GDELT DOC 2.0 answers: a good week is loaded, then the next week's answers are damaged one way.

Leads accumulate week by week (an incremental source), so the hostile run reads the week after
the good one: the same three leads again, with one answer damaged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsrwatch.expectations import ChangeGuard
from dsrwatch.fetching import build_url, url_to_relative_path
from dsrwatch.sources import gdelt_leads as gd

from helpers import deals_fixtures as fx
from helpers.db import query, scalar
from helpers.hostile import FAILED, LOADED, QUARANTINED, SET_ASIDE, Case

pytestmark = pytest.mark.integration

GOOD_RUN = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)  # a Monday: the week 5-12 January
HOSTILE_RUN = GOOD_RUN + timedelta(days=7)  # the week 12-19 January
WEEKS = [(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)),
         (datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 1, 19, tzinfo=UTC))]  # fmt: skip
ANSWERS = {"safe_city": [fx.LEAD_NAIROBI, fx.LEAD_UNRELATED], "surveillance": [fx.LEAD_ISLAMABAD_PUBLISHER]}
NOTICE = b"Please limit requests to one every 5 seconds or contact kalev.leetaru5@gmail.com for larger queries."
HOSTILE_TITLE = "<script>alert(1)</script>'; DROP TABLE core.news_leads; -- {{ 7*7 }} Huawei safe city"


def answer_path(query_key: str) -> Path:
    """The replay file of ``query_key``'s answer for the hostile week."""
    start, end = WEEKS[1]
    return url_to_relative_path(build_url(gd.API_URL, gd.query_params(gd.QUERIES[query_key], start, end)))


def write_answer(query_key: str, body: bytes) -> callable:
    return lambda root: (root / answer_path(query_key)).write_bytes(body)


def edit_articles(change, query_key: str = "safe_city") -> callable:
    """``change(articles)`` edits the hostile week's list of articles of one query in place."""

    def corrupt(root: Path) -> None:
        path = root / answer_path(query_key)
        doc = json.loads(path.read_text())
        change(doc["articles"])
        path.write_text(json.dumps(doc))

    return corrupt


def rename_url_everywhere(root: Path) -> None:
    for key in ANSWERS:
        edit_articles(lambda articles: [a.update(link=a.pop("url")) for a in articles], key)(root)


def nairobi(**fields) -> callable:
    return edit_articles(lambda articles: articles[0].update(fields))


GOOD_BODY = json.dumps({"articles": ANSWERS["safe_city"]}).encode()
ARTICLE_ONE = f"safe_city {WEEKS[1][0]:%Y%m%d%H%M%S}-{WEEKS[1][1]:%Y%m%d%H%M%S} article #1"
CASES = [
    # not GDELT's JSON: the run fails, naming the URL
    Case("answer truncated", write_answer("safe_city", GOOD_BODY[: len(GOOD_BODY) // 2]), FAILED,
         r"api\.gdeltproject\.org/api/v2/doc/doc\?query=.*: not valid JSON"),
    Case("answer is an HTML error page", write_answer("government_data", b"<html><body>502 Bad Gateway</body></html>"),
         FAILED, r"GET https://api\.gdeltproject\.org/.*GDELT answered plain text instead of JSON"),
    Case("answer is the recorded rate-limit notice", write_answer("government_data", NOTICE), FAILED,
         r"https://api\.gdeltproject\.org/.*the recording is GDELT's rate-limit notice"),
    Case("answer not UTF-8", write_answer("safe_city", GOOD_BODY.replace(b"Kenya", "K\xe9nya".encode("latin-1"))),
         FAILED, r"not valid JSON \('utf-8' codec can't decode byte 0xe9"),
    Case("answer is a JSON list", write_answer("safe_city", json.dumps(ANSWERS["safe_city"]).encode()), FAILED,
         r"expected a JSON object with 'articles', got list"),
    Case("articles is an object", write_answer("safe_city", b'{"articles": {"url": "https://x.example/a"}}'), FAILED,
         r"doc\?query=.*: 'articles' is not a list"),
    # GDELT renames a field: every article is set aside, and their share quarantines the run (no
    # "format changed" failure: a quiet week may list one bad article, and a failed run would read
    # the same window again next week)
    Case("url renamed in every answer", rename_url_everywhere, QUARANTINED,
         r"3 of 3 records set aside as invalid, at most 1% \(1\) allowed",
         # fixture-sized, as the harness makes the full-read guard (this source's reads are incremental)
         spec_changes={"incremental_change_guard": ChangeGuard(max_added_fraction=None, always_allowed=1)}),
    # one bad article: set aside, its lead keeps its previous version, the rest loads
    Case("article is a list", edit_articles(lambda articles: articles.__setitem__(0, list(articles[0].values()))),
         SET_ASIDE, r"expected an object per article, got list", record_key=ARTICLE_ONE),
    Case("article without url", edit_articles(lambda articles: articles[0].pop("url")), SET_ASIDE,
         r"missing field\(s\) \['url'\]", record_key=ARTICLE_ONE),
    Case("seendate in the future", nairobi(seendate="20990101T000000Z"), SET_ASIDE, r"in the future",
         record_key=fx.LEAD_NAIROBI["url"], field="seen_at"),
    Case("seendate 'yesterday'", nairobi(seendate="yesterday"), SET_ASIDE,
         r"seendate 'yesterday' is not GDELT's YYYYMMDDTHHMMSSZ", record_key=fx.LEAD_NAIROBI["url"]),
    Case("title is an object", nairobi(title={"en": "Huawei safe city"}), SET_ASIDE, r"title: expected text, got dict",
         record_key=fx.LEAD_NAIROBI["url"]),
    Case("NUL byte in a title", nairobi(title="Kenya extends Huawei\x00safe city"), SET_ASIDE, r"contains a NUL byte",
         record_key=fx.LEAD_NAIROBI["url"], field="title"),
    Case("10 kB url", edit_articles(lambda articles: articles.append(
        fx.article("https://x.example/" + "a" * 10_000, "Huawei safe city", "20260114T000000Z", "x.example", "Kenya"))),
         SET_ASIDE, r"10018 bytes long, at most 1000 allowed", field="url"),
    Case("headline carrying HTML, SQL and Jinja", edit_articles(lambda articles: articles.append(
        fx.article("https://x.example/hostile", HOSTILE_TITLE, "20260114T000000Z", "x.example", "Kenya"))), LOADED, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_gdelt_answer(case, hostile, warehouse, monkeypatch):
    clock = iter([GOOD_RUN, HOSTILE_RUN])
    monkeypatch.setattr(gd, "utc_now", lambda: next(clock))
    changed = ("news_leads", "entity_changes") if case.outcome == LOADED else ()
    hostile("gdelt_leads", lambda root: fx.write_gdelt_replay(root, ANSWERS, WEEKS), case, changed_tables=changed)
    if case.outcome == LOADED:
        assert scalar(warehouse, "SELECT title FROM analyst.news_leads WHERE url = 'https://x.example/hostile'") == (
            HOSTILE_TITLE)  # stored as the data it is
    if case.record_key == fx.LEAD_NAIROBI["url"]:
        # the lead kept its previous version
        assert query(warehouse, "SELECT title, seen_at, removed_at FROM core.news_leads WHERE url = %s",
                     (fx.LEAD_NAIROBI["url"],)) == [(fx.LEAD_NAIROBI["title"], datetime(2026, 1, 7, 8, 15, tzinfo=UTC),
                                                     None)]  # fmt: skip
