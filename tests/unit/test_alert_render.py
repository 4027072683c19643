"""Rendering the weekly digest: HTML for mail clients, plain text, chart, CSV, MIME tree; a screenshot."""

from __future__ import annotations

import csv
import io
import shutil
import struct
import subprocess
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dsrwatch.alerts import render
from dsrwatch.alerts.digest import Digest, Entry, FlagLine, Party, PatternNote
from dsrwatch.alerts.settings import AlertConfigError, RecipientList, parse_lists

START = datetime(2026, 11, 16, 6, tzinfo=UTC)
END = datetime(2026, 11, 23, 6, tzinfo=UTC)
XSS = "<script>alert(1)</script>"
CHROMIUM = Path("/usr/bin/chromium")
EVERYONE = RecipientList("default", ("analysts@example.org",))


def flag(flag_id, pattern_id, title, severity, reason, change="new", previous=None, days=2):
    return FlagLine(flag_id=flag_id, pattern_id=pattern_id, title=title, severity=severity, reason=reason,
                    first_flagged_at=START + timedelta(days=days), change=change, previous_severity=previous,
                    changed_at=START + timedelta(days=days) if change != "new" else None)  # fmt: skip


def entry(
    entity_id, name, category, flags, countries=("KEN",), country_names=("Kenya",), url=None, parties=()
):
    kind = {
        "cables": "submarine_cable",
        "data_centres": "data_centre",
        "deals": "deal",
        "cloud": "cloud_region",
    }
    return Entry(entity_kind=kind[category], entity_id=entity_id, name=name, category=category,
                 countries=countries, country_names=country_names, url=url, source="submarine_cables",
                 is_present=True, parties=tuple(parties), flags=tuple(flags))  # fmt: skip


HMN = Party("HMN Technologies", ("supplier",), "PRC", "private", "Hengtong Group")
CHINA_MOBILE = Party("China Mobile", ("owner",), "PRC", "state", None)


def sample_digest() -> Digest:
    entries = (
        entry("meridian-express", "Meridian Express", "cables", [
            flag(11, "PRC_OWNER", "PRC-linked owner or operator", "high",
                 "owned or operated by China Mobile (PRC, state)"),
            flag(12, "PRC_SUPPLIER", "PRC-linked supplier of core infrastructure", "high",
                 "supplied by HMN Technologies (PRC, private; group Hengtong Group)"),
            flag(13, "AUTHORITARIAN_HOST", "PRC-linked infrastructure hosted by an autocracy", "medium",
                 "lands in Pakistan (electoral autocracy, 2024)"),
        ], countries=("KEN", "PAK"), country_names=("Kenya", "Pakistan"),
            url="https://www.submarinecablemap.com/submarine-cable/meridian-express?a=1&b=2",
            parties=[CHINA_MOBILE, HMN]),
        entry("script-cable", XSS, "cables", [
            flag(14, "DEMOCRACY_EXPOSURE", "PRC-linked infrastructure in a democracy", "medium",
                 f"lands in Portugal (liberal democracy) {XSS}"),
        ], countries=("NGA", "PRT"), country_names=("Nigeria", "Portugal"), url="javascript:alert(2)",
            parties=[Party(f"Evil {XSS} Ltd", ("owner",), "PRC", "private", None)]),
        entry("sail", "South Atlantic Inter Link (SAIL)", "cables", [
            flag(5, "PRC_OWNER", "PRC-linked owner or operator", "high", "owned by China Unicom (PRC, state)",
                 change="back", days=3),
        ], countries=("BRA", "CMR"), country_names=("Brazil", "Cameroon")),
        entry("fac-4711", "Nairobi Government Cloud DC", "data_centres", [
            flag(21, "GOV_DATA_HOSTING", "Government data hosted on PRC-linked infrastructure", "critical",
                 "national data centre built by Huawei"),
        ], url="https://www.peeringdb.com/fac/4711"),
    )  # fmt: skip
    raised = (entry("peace-cable", "PEACE Cable", "cables", [
        flag(3, "PRC_OWNER", "PRC-linked owner or operator", "high", "owned by China Telecom (PRC, state)",
             change="raised", previous="low"),
    ], countries=("FRA", "KEN", "PAK"), country_names=("France", "Kenya", "Pakistan")),)  # fmt: skip
    resolved = (entry("sail-2", "Old Cable", "cables", [
        flag(4, "CHOKEPOINT", "PRC-linked cable is one of at most two international cables of a country", "high",
             "only cable of Cameroon", change="resolved"),
    ]),)  # fmt: skip
    weeks = [date(2026, 11, 16) - timedelta(weeks=n) for n in range(12)]
    weekly = {(weeks[0], "cables", "high"): 3, (weeks[0], "cables", "medium"): 2,
              (weeks[0], "data_centres", "critical"): 1, (weeks[2], "cables", "high"): 2,
              (weeks[5], "deals", "medium"): 1, (weeks[5], "data_centres", "low"): 4}  # fmt: skip
    patterns = {p: PatternNote(p, t, f"Why {p} matters.", "R1, R2") for p, t in [
        ("PRC_OWNER", "PRC-linked owner or operator"), ("PRC_SUPPLIER", "PRC-linked supplier of core infrastructure"),
        ("AUTHORITARIAN_HOST", "PRC-linked infrastructure hosted by an autocracy"),
        ("DEMOCRACY_EXPOSURE", "PRC-linked infrastructure in a democracy"),
        ("GOV_DATA_HOSTING", "Government data hosted on PRC-linked infrastructure")]}  # fmt: skip
    return Digest(interval_start=START, interval_end=END, entries=entries, raised=raised, resolved=resolved,
                  weekly_new=weekly, patterns=patterns,
                  attributions=("TeleGeography Submarine Cable Map, CC BY-NC-SA 3.0 (2022 snapshot)",),
                  last_evaluation_at=END - timedelta(hours=3), evaluations_in_interval=2, open_flags=42)  # fmt: skip


def empty_digest() -> Digest:
    return Digest(interval_start=START, interval_end=END, entries=(), raised=(), resolved=(), weekly_new={},
                  patterns={}, attributions=(), last_evaluation_at=None, evaluations_in_interval=0,
                  open_flags=7)  # fmt: skip


class Structure(HTMLParser):
    """Collects what mail clients care about."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    return parser


# --- HTML --------------------------------------------------------------------------------------------
def test_html_is_mail_client_safe(tmp_path):
    rendered = render.build_message(sample_digest().for_list(EVERYONE), EVERYONE, "dsr-watch@localhost")
    path = tmp_path / "digest.html"
    path.write_text(rendered.html, encoding="utf-8")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    doc = parse(html)
    names = [t for t, _ in doc.tags]
    assert "script" not in names and "style" not in names and "link" not in names and "iframe" not in names
    assert not any("class" in a or "id" in a for _, a in doc.tags)  # inline CSS only
    assert not any(k.startswith("on") for _, a in doc.tags for k in a)  # no event handlers
    tables = [a for t, a in doc.tags if t == "table"]
    assert tables and all(a.get("role") == "presentation" for a in tables)
    assert any(a.get("width") == "640" and "max-width:640px" in a.get("style", "") for a in tables)
    [image] = [a for t, a in doc.tags if t == "img"]
    assert image["src"] == f"cid:{rendered.chart_cid}" and image["alt"].startswith("Bar chart")
    links = [a["href"] for t, a in doc.tags if t == "a"]
    assert links and all(href.startswith("https://") for href in links)
    assert "https://www.submarinecablemap.com/submarine-cable/meridian-express?a=1&b=2" in links
    text = " ".join(" ".join(doc.text).split())
    for expected in ("Meridian Express", "HMN Technologies", "China Mobile", "Kenya, Pakistan", "Submarine cables",
                     "Data centres", "Severity raised", "Resolved", "Why these patterns matter",
                     "PRC-linked owner or operator", "owned or operated by China Mobile (PRC, state)",
                     "first flagged 2026-11-18", "TeleGeography Submarine Cable Map"):  # fmt: skip
        assert expected in text, expected
    # sections in order: cables before data centres; the critical data centre is counted
    assert text.index("Meridian Express") < text.index("Nairobi Government Cloud DC")
    assert (
        "4 new risk entries (1 of them back after being resolved): 3 submarine cables and 1 data centre."
        in text
    )


def test_every_source_string_is_escaped():
    html = render.build_message(sample_digest(), EVERYONE, "dsr-watch@localhost").html
    assert XSS not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # name, party, reason
    assert "javascript:" not in html  # a source URL that is no http(s) link is dropped
    assert "<script" not in html.lower()


def test_plain_text_alternative_reads_on_its_own():
    text = render.render_text(sample_digest(), EVERYONE)
    assert "SUBMARINE CABLES (3)\n====================\n" in text and "DATA CENTRES (1)" in text
    assert "* Meridian Express  [NEW, high]" in text
    assert "[BACK, high]" in text and "back since 2026-11-19" in text
    assert "PRC-linked owner or operator: low -> high" in text
    assert "- HMN Technologies (supplier) - PRC, private; group Hengtong Group" in text
    assert "Source: https://www.submarinecablemap.com/submarine-cable/meridian-express?a=1&b=2" in text
    assert "javascript:" not in text
    assert max(len(line) for line in text.splitlines() if "http" not in line) <= 80


def test_subject_and_headline():
    digest = sample_digest()
    assert (
        render.subject_for(digest)
        == "DSR Watch: 4 new risk entries, 1 raised, 1 resolved, week of 2026-11-16"
    )
    assert render.subject_for(empty_digest()) == "DSR Watch: nothing new, week of 2026-11-16"
    one = Digest(**{**digest.__dict__, "entries": digest.entries[:1], "raised": (), "resolved": ()})
    assert render.subject_for(one) == "DSR Watch: 1 new risk entry, week of 2026-11-16"
    odd = Digest(**{**digest.__dict__, "interval_end": START + timedelta(days=3)})
    assert render.subject_for(odd).endswith("2026-11-16 to 2026-11-19")


def test_message_id_is_stable_and_per_list():
    first = render.message_id("default", START, END)
    assert first == render.message_id("default", START, END)
    assert first != render.message_id("analysts", START, END)
    assert first != render.message_id("default", START, END + timedelta(days=1))
    assert first == "<20261116060000.20261123060000.default@dsrwatch.invalid>"
    long = render.message_id("a-very-long-list-name-for-the-board", START, END)
    assert len("Message-ID: " + long) <= 78


# --- message, chart, CSV -----------------------------------------------------------------------------
def test_mime_tree_and_headers():
    rendered = render.build_message(sample_digest(), EVERYONE, "dsr-watch@localhost")
    message = rendered.message
    tree = [(p.get_content_type(), p.get_content_disposition()) for p in message.walk()]
    assert tree == [("multipart/mixed", None), ("multipart/alternative", None), ("text/plain", None),
                    ("multipart/related", None), ("text/html", None), ("image/png", "inline"),
                    ("text/csv", "attachment")]  # fmt: skip
    assert message["From"] == "DSR Watch <dsr-watch@localhost>"
    assert message["To"] == "analysts@example.org"
    assert message["List-Id"] == "DSR Watch digest (default) <default.digest.dsrwatch.invalid>"
    assert message["Message-ID"] == render.message_id("default", START, END)


def test_empty_digest_is_short_and_has_no_attachments():
    rendered = render.build_message(empty_digest(), EVERYONE, "dsr-watch@localhost")
    assert [p.get_content_type() for p in rendered.message.walk()] == ["multipart/alternative", "text/plain",
                                                                       "text/html"]  # fmt: skip
    assert "Nothing new" in rendered.text and "7 flags are open in total" in rendered.text
    assert "No risk evaluation finished in this period" in rendered.html
    assert rendered.chart_png is None and rendered.csv_text is None


def test_chart_is_a_png_of_the_last_twelve_weeks():
    digest = sample_digest()
    png = render.chart_png(digest)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1184, 520)  # 592 x 260 CSS pixels at 2x
    assert digest.chart_weeks()[-1] == date(2026, 11, 16) and len(digest.chart_weeks()) == 12
    assert digest.chart_series() == {
        "cables": [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 5],
        "data_centres": [0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1],
        "deals": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    }
    assert len(png) < 120_000


def test_csv_has_one_row_per_flag_and_defuses_formulas():
    digest = sample_digest()
    evil = Digest(**{**digest.__dict__, "entries": (entry("x", "=HYPERLINK(\"http://evil\")", "cables", [
        flag(99, "PRC_OWNER", "t", "high", "+1 reason")]),)})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(render.csv_text(digest))))
    assert len(rows) == 8  # 6 new/back + 1 raised + 1 resolved
    assert rows[0]["category"] == "cables" and rows[0]["countries"] == "KEN;PAK"
    assert {r["section"] for r in rows} == {"new", "back", "raised", "resolved"}
    [evil_row] = [r for r in csv.DictReader(io.StringIO(render.csv_text(evil))) if r["entity_id"] == "x"]
    assert evil_row["entity"].startswith("'=") and evil_row["reason"] == "'+1 reason"


# --- list filters and configuration ----------------------------------------------------------------
def test_for_list_filters_categories_and_severity():
    digest = sample_digest()
    severe = digest.for_list(RecipientList("severe", ("a@example.org",), min_severity="high"))
    assert {f.severity for e in severe.entries for f in e.flags} <= {"high", "critical"}
    assert "script-cable" not in {e.entity_id for e in severe.entries}  # only a medium flag
    assert "AUTHORITARIAN_HOST" not in severe.patterns
    dc = digest.for_list(RecipientList("dc", ("a@example.org",), categories=("data_centres",)))
    assert [e.entity_id for e in dc.entries] == ["fac-4711"] and not dc.raised and not dc.resolved
    assert set(dc.chart_series()) == {"data_centres"}
    deals = digest.for_list(RecipientList("deals", ("a@example.org",), categories=("deals",)))
    assert deals.is_empty


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "not valid JSON"),
    ('[{"to": ["a@example.org"]}]', "'name' must be"),
    ('[{"name": "a", "to": ["a@example.org"]}, {"name": "a", "to": []}]', "appears twice"),
    ('[{"name": "a", "to": ["not an address"]}]', "not a plain e-mail address"),
    ('[{"name": "a", "to": [], "categories": ["ships"]}]', "'categories' must be"),
    ('[{"name": "a", "to": [], "send_empty": "no"}]', "'send_empty' must be"),
    ('[{"name": "a", "to": [], "cc": []}]', "unknown keys"),
])  # fmt: skip
def test_list_configuration_errors_name_the_fix(raw, message):
    with pytest.raises(AlertConfigError, match=message):
        parse_lists(raw, "DSR_ALERT_LISTS")


def test_list_configuration_defaults(monkeypatch):
    monkeypatch.setenv("DSR_ALERT_SEND_EMPTY", "false")
    [lst] = parse_lists('{"name": "board", "to": "a@example.org, b@example.org", "categories": ["deals", "cables"]}',
                        "x")  # fmt: skip
    assert lst.to == ("a@example.org", "b@example.org") and lst.categories == ("cables", "deals")
    assert lst.send_empty is False and lst.filter_label == "cables, deals"


# --- what it looks like -------------------------------------------------------------------------------
def screenshot(html_path: Path, png_path: Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={profile}", f"--screenshot={png_path}", "--window-size=800,1600",
         html_path.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)),
                    reason="/usr/bin/chromium is not installed (apt-get install chromium): no screenshot")  # fmt: skip
def test_screenshot_renders_in_a_browser(tmp_path):
    rendered = render.build_message(sample_digest(), EVERYONE, "dsr-watch@localhost")
    paths = render.write_preview(rendered, tmp_path / "preview", "digest")
    png = tmp_path / "digest.png"
    result = screenshot(paths["html"], png, tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists()
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (800, 1600)
    assert len(data) > 50_000  # a blank page is a few kB; the digest has text, badges and the chart


def test_csv_url_column_keeps_only_http_links():
    """The CSV's url column passes the same check as the HTML's links (render._safe_url)."""
    digest = sample_digest()
    urls = {
        "js": "javascript:alert(document.cookie)",
        "js-caps": "  JaVaScRiPt:alert(1)",
        "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file": "file:///etc/passwd",
        "quoted": 'https://example.org/"onmouseover="alert(1)',
        "https": "https://www.submarinecablemap.com/submarine-cable/peace-cable",
        "http": "http://example.org/a?b=c",
    }
    entries = tuple(entry(key, key, "cables", [flag(i, "PRC_OWNER", "t", "high", "r")], url=url)
                    for i, (key, url) in enumerate(urls.items(), start=500))  # fmt: skip
    links = Digest(**{**digest.__dict__, "entries": entries, "raised": (), "resolved": ()})
    rows = {r["entity_id"]: r["url"] for r in csv.DictReader(io.StringIO(render.csv_text(links)))}
    assert rows == {"js": "", "js-caps": "", "data": "", "file": "", "quoted": "",
                    "https": urls["https"], "http": urls["http"]}  # fmt: skip
    # the same verdicts as the HTML's links
    html = render.render_html(links, EVERYONE)
    assert "javascript:" not in html.lower() and "data:text" not in html and urls["https"] in html
