"""GDELT DOC 2.0 news leads on smart-city, safe-city and surveillance deals with PRC vendors.

Endpoint: ``https://api.gdeltproject.org/api/v2/doc/doc?query=...&mode=artlist&format=json&
maxrecords=250&startdatetime=YYYYMMDDHHMMSS&enddatetime=YYYYMMDDHHMMSS``; the answer is
``{"articles": [{url, url_mobile, title, seendate, socialimage, domain, language,
sourcecountry}]}`` (``{}`` when nothing matches). A few queries, each combining component terms
with several vendor names, run over weekly windows (whole UTC days) from the cursor's last window
end to today (at most MAX_WINDOWS weeks back: the API only searches about three months).

Politeness: GDELT asks for at most one request every 5 s (SourceSpec politeness_delay=5.0) and
answers 429 when pushed; the fetch layer backs off from 10 s (fetcher_options). GDELT also sends
its rate-limit notice as a plain-text body ("Please limit requests to one every 5 seconds ...")
with status 200; fetch hands the fetcher a ``retry_if`` predicate (``rate_limit_notice``), so the
fetch layer retries it like a 429 (same attempts and backoff), then fails with a
RetryableFetchError naming the URL; a recorded notice is fatal in replay. Any other plain-text
answer (a rejected query) is fatal and quoted.

Leads (``core.news_leads``, key url) are never deals. A lead row holds what its answer says: the
headline, publisher and publisher's country, and what the headline names - countries, PRC-linked
organisations (registry ids) and component tags. Parsing reads nothing else (no warehouse), so a
run is a pure function of its payloads. Which known deal a lead most likely reports is decided by
the view ``analyst.news_leads`` (sql/views/040_deals.sql) from the deals present in the warehouse
whenever it is read: the deal's recipient country, a PRC-linked party and a component must all
match the headline (the view documents the rule and the confidence levels), so a deal loaded
after a lead still links to it. The table's own link columns are no longer written (NULL).
Bad records: an article that cannot be read (not an object, no url, a field of the wrong type, a
seendate that is not GDELT's ``YYYYMMDDTHHMMSSZ``) is set aside with the reason and the rest of the
answer loads; a seendate after the fetch is set aside by the declared rule (it is impossible, and
the lead would sort ahead of every later one). An answer that is not GDELT's JSON at all (not
JSON, the rate-limit notice, ``articles`` not a list) fails the run.
Licence: GDELT Project terms - free use, including commercial, with citation and a link to
https://www.gdeltproject.org/; headlines and articles belong to their publishers.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from dsrwatch.deals import mentioned_organisations
from dsrwatch.fetching import FatalFetchError, FetchedResponse, Fetcher
from dsrwatch.normalise.components import PhraseIndex, default_taxonomy
from dsrwatch.normalise.countries import NAME_OVERRIDES, to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.base import (
    ChangeGuard,
    MaxNullFraction,
    NotAfterFetch,
    ParsedBatch,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    require,
    set_aside_on_error,
)
from dsrwatch.warehouse.tables import EntityTable, RawPayload

log = logging.getLogger(__name__)

HOST = "api.gdeltproject.org"
API_URL = f"https://{HOST}/api/v2/doc/doc"
MAX_RECORDS = 250
WINDOW = timedelta(days=7)
MAX_WINDOWS = 12
TIME_FORMAT = "%Y%m%d%H%M%S"
RATE_LIMIT_NOTICE = b"Please limit requests"

# A few queries, each ORing component terms and vendor names (GDELT: OR groups in parentheses,
# phrases in quotes). Keys are stored with each lead. Keep them short: the replay file name
# holds the whole query string and may not exceed 255 bytes.
QUERIES: dict[str, str] = {
    "safe_city": '("safe city" OR "smart city" OR "ciudad segura") (huawei OR zte OR hikvision OR dahua OR ceiec)',
    "surveillance": '("facial recognition" OR "video surveillance" OR cctv) (huawei OR hikvision OR dahua OR sensetime)',
    "government_data": '("data centre" OR "data center" OR "government cloud" OR "e-government") (huawei OR zte OR inspur)',
}

# linked_deal_id, link_confidence and link_reason predate linking in SQL (analyst.news_leads): the
# parser writes NULL into them; the view ignores them.
NEWS_LEADS = EntityTable(
    "core.news_leads",
    key=("url",),
    columns=("title", "seen_at", "domain", "language", "source_country", "source_country_iso3", "queries",
             "vendor_ids", "tags", "countries", "linked_deal_id", "link_confidence", "link_reason"),
    rules=(NotAfterFetch("seen_at"),),
)  # fmt: skip

SOURCE = SourceSpec(
    name="gdelt_leads",
    title="GDELT DOC 2.0 news leads (smart/safe city and surveillance with PRC vendors)",
    category="leads",
    hosts=(HOST,),
    homepage="https://blog.gdeltproject.org/gdelt-doc-2-0-api-debuts/",
    licence="GDELT Project terms: free use with citation; articles belong to their publishers",
    attribution="The GDELT Project (https://www.gdeltproject.org/)",
    schedule="0 5 * * 1",  # weekly, Monday 05:00 UTC, after the deal sources, before the digest
    tables=(NEWS_LEADS,),
    expectations=(
        RowCountBounds("core.news_leads", 0, 200_000),  # a quiet week may bring nothing
        MaxNullFraction("core.news_leads", "seen_at", 0.0),
    ),
    politeness_delay=5.0,
    fetcher_options={"backoff_base": 10.0},
    views=("analyst.news_leads",),
    # Leads accumulate week by week: a busy week may bring more than are stored so far.
    incremental_change_guard=ChangeGuard(max_added_fraction=None),
    # 250 articles per answer: well under 1 MB.
    max_payload_bytes=16 * 2**20,
)


# -- windows and URLs ------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


def windows(cursor: dict | None, now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Weekly windows from the cursor's last window end (or a week ago) to today 00:00 UTC."""
    end = (now or utc_now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = (cursor or {}).get("window_end")
    start = datetime.strptime(last, TIME_FORMAT).replace(tzinfo=UTC) if last else end - WINDOW
    start = max(start, end - MAX_WINDOWS * WINDOW)
    spans = []
    while start < end:
        spans.append((start, min(start + WINDOW, end)))
        start = spans[-1][1]
    return spans


def query_params(query: str, start: datetime, end: datetime) -> dict[str, object]:
    """Parameters of one request, in the order they are sent (the replay file name uses it)."""
    return {"query": query, "mode": "artlist", "format": "json", "maxrecords": MAX_RECORDS,
            "startdatetime": start.strftime(TIME_FORMAT), "enddatetime": end.strftime(TIME_FORMAT)}  # fmt: skip


def is_rate_limit_notice(body: bytes) -> bool:
    return body.lstrip()[: len(RATE_LIMIT_NOTICE)] == RATE_LIMIT_NOTICE


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[") or not body.strip()


def rate_limit_notice(response: FetchedResponse) -> str | None:
    """The fetcher's ``retry_if``: GDELT's plain-text rate-limit notice, sent with HTTP 200, is a
    "slow down" answer to retry with the fetch layer's backoff (from 10 s), not results."""
    if not is_rate_limit_notice(response.body):
        return None
    return f"GDELT's rate-limit notice {response.body[:200].decode('utf-8', 'replace').strip()!r}"


def _get(fetcher: Fetcher, params: dict[str, object]) -> FetchedResponse:
    """One request; the fetcher retries the rate-limit notice. Any other plain text is fatal."""
    response = fetcher.get(API_URL, params, retry_if=rate_limit_notice)
    if not _looks_like_json(response.body):
        text = response.body[:300].decode("utf-8", "replace").strip()
        raise FatalFetchError(f"GET {response.url}: GDELT answered plain text instead of JSON "
                              f"(a rejected query?): {text!r}")  # fmt: skip
    return response


def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """Every query over every window since the cursor."""
    spans = windows(cursor)
    if not spans:
        log.info("gdelt_leads: no complete day since the last window end %s", (cursor or {}).get("window_end"))
    for start, end in spans:
        for query in QUERIES.values():
            yield _get(fetcher, query_params(query, start, end))


# -- parse -------------------------------------------------------------------------------------
@cache
def country_names() -> PhraseIndex:
    """Country names (pycountry names, common and official names, and the project's overrides)."""
    import pycountry

    entries = []
    for country in pycountry.countries:
        for name in {country.name, getattr(country, "common_name", None), getattr(country, "official_name", None)}:
            if name:
                entries.append((country.alpha_3, name.split(",")[0], False))
    entries += [(iso3, name, False) for name, iso3 in NAME_OVERRIDES.items() if not name.startswith(("the ", "congo,"))]
    return PhraseIndex(entries)


def seen_at(value: object) -> datetime | None:
    """GDELT's seendate "20241224T144500Z" -> aware datetime (UTC)."""
    text = clean_text(value)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _seen_at(value: object) -> datetime:
    """seen_at of one article, which every lead must have: unreadable otherwise."""
    moment = seen_at(_text(value, "seendate"))
    if moment is None:
        raise ValueError(f"seendate {value!r} is not GDELT's YYYYMMDDTHHMMSSZ")
    return moment


def _text(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what}: expected text, got {type(value).__name__}")
    return clean_text(value)


@dataclass
class Lead:
    url: str
    title: str | None
    seen_at: datetime | None
    domain: str | None
    language: str | None
    source_country: str | None
    source_country_iso3: str | None
    queries: list[str] = field(default_factory=list)
    vendor_ids: list[str] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    countries: list[str] = field(default_factory=list)


def _articles(body: bytes, url: str) -> list[dict]:
    if is_rate_limit_notice(body):
        raise SourceFormatError(f"{url}: the payload is GDELT's rate-limit notice, not results")
    if not body.strip():
        return []
    try:  # GDELT titles sometimes carry raw control characters: strict=False accepts them
        data = json.loads(body, strict=False)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{url}: not valid JSON ({exc}); {len(body)} bytes. The payload is kept in "
                                "raw.http_responses / raw.bodies for inspection.") from exc  # fmt: skip
    if not isinstance(data, dict):
        raise SourceFormatError(f"{url}: expected a JSON object with 'articles', got {type(data).__name__}")
    articles = data.get("articles", [])  # {} means no matches
    if not isinstance(articles, list):
        raise SourceFormatError(f"{url}: 'articles' is not a list")
    return articles


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """The answers of one run -> leads, with the countries, PRC-linked organisations and components
    their headlines name (linking them to known deals is analyst.news_leads' work)."""
    query_ids = {text: key for key, text in QUERIES.items()}
    leads: dict[str, Lead] = {}
    set_aside: list[SetAside] = []
    window_end, full = (cursor or {}).get("window_end"), []
    for payload in payloads:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(payload.url).query))
        query = query_ids.get(params.get("query", ""), params.get("query", ""))
        if params.get("enddatetime") and (window_end is None or params["enddatetime"] > window_end):
            window_end = params["enddatetime"]
        articles = _articles(payload.body, payload.url)
        if len(articles) >= MAX_RECORDS:
            full.append(f"{query} {params.get('startdatetime')}-{params.get('enddatetime')}")
        answer = f"{query} {params.get('startdatetime')}-{params.get('enddatetime')}"
        for number, article in enumerate(articles, 1):
            # The url names the lead; an article without one is set aside under its place in the answer.
            url = _text(article.get("url"), "url") if isinstance(article, dict) and isinstance(article.get("url"), str) else None
            with set_aside_on_error(set_aside, NEWS_LEADS.table, url or f"{answer} article #{number}", payload.url,
                                    entity_key=(url,) if url else None):  # fmt: skip
                if not isinstance(article, dict):
                    raise TypeError(f"expected an object per article, got {type(article).__name__}")
                require(article, ("url", "seendate"), payload.url)
                if url is None:
                    raise ValueError(f"url {article['url']!r} is not a link")
                country = _text(article.get("sourcecountry"), "sourcecountry")
                lead = Lead(url, _text(article.get("title"), "title"), _seen_at(article["seendate"]),
                            _text(article.get("domain"), "domain"), _text(article.get("language"), "language"),
                            country, to_iso3(country))  # fmt: skip
                lead = leads.setdefault(url, lead)  # the first answer listing a url describes it
                if query not in lead.queries:
                    lead.queries.append(query)
    # No "nothing readable" failure here: a quiet week may list one bad article, and a failed run
    # would read the same window again next week. A changed format sets aside every article, which
    # the share of set-aside records (at most 1%) turns into a quarantined run.
    taxonomy = default_taxonomy()
    for lead in leads.values():
        lead.tags = taxonomy.classify(lead.title)
        lead.vendor_ids = mentioned_organisations(lead.title)
        lead.countries = list(country_names().find(lead.title))
    rows = [(lead.url, lead.title, lead.seen_at, lead.domain, lead.language, lead.source_country,
             lead.source_country_iso3, lead.queries, lead.vendor_ids, lead.tags, lead.countries,
             None, None, None)  # linked_deal_id, link_confidence, link_reason: see NEWS_LEADS
            for lead in leads.values()]  # fmt: skip
    naming = sum(1 for lead in leads.values() if lead.vendor_ids and lead.tags)
    warnings = [f"{len(rows)} leads, {naming} naming a PRC-linked organisation and a component"]
    if full:
        warnings.append(f"{len(full)} answers hit maxrecords={MAX_RECORDS} (older articles cut off): {full[:5]}")
    return ParsedBatch(rows={NEWS_LEADS.table: rows}, entities=len(rows), complete=False, deleted_keys={},
                       cursor={"window_end": window_end} if window_end else cursor, warnings=warnings,
                       set_aside=set_aside)  # fmt: skip
