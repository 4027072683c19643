"""Render a digest as an e-mail: HTML and plain text (Jinja2), a chart (matplotlib), a CSV.

Message layout (``email.message.EmailMessage``)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                    digest.txt.j2
    │   └── multipart/related
    │       ├── text/html                 digest.html.j2 (autoescaped; inline CSS; tables; 640px)
    │       └── image/png                 chart, referenced by Content-ID
    └── text/csv                          one row per reported flag

A digest with nothing to report is a short multipart/alternative (text, HTML) without chart or CSV.
matplotlib and Jinja2 are imported when a message is built, never at DAG-parse time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from dsrwatch.alerts.digest import Digest, utc
from dsrwatch.alerts.settings import PROJECT_DOMAIN, SENDER_NAME, RecipientList
from dsrwatch.files import write_atomic
from dsrwatch.vocabulary import CATEGORY_LABELS, SEVERITIES

TEMPLATE_DIR = Path(__file__).parent / "templates"
CHART_WIDTH_PX = 592  # the 640px column less its padding

SEVERITY_COLOURS = {  # badge background; text is white on all (contrast >= 4.5:1)
    "critical": "#7f1d1d",
    "high": "#b91c1c",
    "medium": "#b45309",
    "low": "#4b5563",
}
CATEGORY_COLOURS = {"cables": "#1d4ed8", "cloud": "#0e7490", "data_centres": "#047857", "deals": "#a21caf"}
OTHER_COLOUR = "#6b7280"
CSV_COLUMNS = ("section", "category", "entity", "entity_kind", "entity_id", "countries", "pattern_id", "pattern",
               "severity", "previous_severity", "reason", "first_flagged_at", "url", "flag_id")  # fmt: skip


@dataclass
class RenderedDigest:
    """The built message and the pieces it was made of (for the outbox and for tests)."""

    message: EmailMessage
    subject: str
    message_id: str
    html: str  # as in the message (image by cid:)
    text: str
    chart_png: bytes | None
    chart_cid: str | None
    csv_text: str | None
    csv_name: str | None

    def preview_html(self, image_src: str | None) -> str:
        """The HTML with the chart at ``image_src`` (a file name or data: URI) instead of cid:."""
        if self.chart_cid and image_src:
            return self.html.replace(f"cid:{self.chart_cid}", image_src)
        return self.html


# --- labels -----------------------------------------------------------------------------------------
def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def period_label(start: datetime, end: datetime) -> str:
    """'week of 2026-11-16' for a 7-day interval; 'since 2026-11-28 09:15 UTC' for less than a day
    (a one-shot run); else '2026-11-16 to 2026-11-28'."""
    if end - start == timedelta(days=7):
        return f"week of {_day(start)}"
    if end - start < timedelta(days=1):
        return f"since {when(start)}"
    return f"{_day(start)} to {_day(end)}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def subject_for(digest: Digest) -> str:
    parts = []
    if digest.entries:
        parts.append(_plural(len(digest.entries), "new risk entry", "new risk entries"))
    if digest.raised:
        parts.append(f"{len(digest.raised)} raised")
    if not parts:
        parts.append("nothing new")
    if digest.resolved:
        parts.append(f"{len(digest.resolved)} resolved")
    return f"DSR Watch: {', '.join(parts)}, {period_label(digest.interval_start, digest.interval_end)}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def headline(digest: Digest) -> str:
    """One or two sentences a reader can stop after."""
    if digest.is_empty:
        return "Nothing new: no risk flag was opened, came back, rose in severity or was resolved."
    sentences = []
    if digest.entries:
        per_category = [_plural(total, CATEGORY_LABELS.get(c, c).lower().rstrip("s"), CATEGORY_LABELS.get(c, c).lower())
                        for c, _, _, total in digest.counts_by_category()]  # fmt: skip
        back = f" ({digest.back_count} of them back after being resolved)" if digest.back_count else ""
        sentences.append(f"{_plural(len(digest.entries), 'new risk entry', 'new risk entries')}{back}: "
                         f"{_join(per_category)}.")  # fmt: skip
    else:
        sentences.append("No new risk entries.")
    tail = []
    if digest.raised:
        tail.append(f"{_plural(len(digest.raised), 'entity', 'entities')} rose in severity")
    if digest.resolved:
        tail.append(f"{_plural(len(digest.resolved), 'entity', 'entities')} had flags resolved")
    if tail:
        sentence = _join(tail)
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
    return " ".join(sentences)


def list_slug(list_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", list_name).strip("-") or "list"


def message_id(list_name: str, start: datetime, end: datetime) -> str:
    """Stable per (list, interval): every attempt of one digest carries the same Message-ID.

    Short enough not to be folded (a folded Message-ID is legal but trips simple parsers)."""
    slug = list_slug(list_name)
    if len(slug) > 16 or slug != list_name:
        slug = f"{slug[:10]}-{hashlib.sha256(list_name.encode()).hexdigest()[:6]}"
    return (
        f"<{start.astimezone(UTC):%Y%m%d%H%M%S}.{end.astimezone(UTC):%Y%m%d%H%M%S}.{slug}@{PROJECT_DOMAIN}>"
    )


def list_id(list_name: str) -> str:
    slug = list_slug(list_name)
    return f"DSR Watch digest ({list_name}) <{slug}.digest.{PROJECT_DOMAIN}>"


def interval_stem(start: datetime, end: datetime) -> str:
    return f"{start.astimezone(UTC):%Y%m%dT%H%M%SZ}-{end.astimezone(UTC):%Y%m%dT%H%M%SZ}"


# --- the chart --------------------------------------------------------------------------------------
def chart_png(digest: Digest) -> bytes | None:
    """Stacked bars of new (non-baseline) flags per week by category, the weeks counted back from the
    interval's end (the last bar is the digest's own week); None when all weeks are zero."""
    series = digest.chart_series()
    if not series:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg, no pyplot state: safe in workers
    from matplotlib.figure import Figure

    weeks = digest.chart_weeks()
    figure = Figure(figsize=(CHART_WIDTH_PX / 100, 2.6), dpi=200)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.06, 0.2, 0.92, 0.62))
    positions = list(range(len(weeks)))
    bottom = [0] * len(weeks)
    for category, counts in series.items():
        axes.bar(positions, counts, bottom=bottom, width=0.7, color=CATEGORY_COLOURS.get(category, OTHER_COLOUR),
                 label=CATEGORY_LABELS.get(category, category), edgecolor="white", linewidth=0.5)  # fmt: skip
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for x, total in zip(positions, bottom, strict=True):
        if total:
            axes.annotate(str(total), (x, total), xytext=(0, 2), textcoords="offset points", ha="center",
                          va="bottom", fontsize=7, color="#111827")  # fmt: skip
    axes.set_xticks(positions, [f"{w:%d %b}" for w in weeks], fontsize=6.5,
                    color="#374151")  # fmt: skip
    axes.tick_params(axis="y", labelsize=6.5, colors="#374151", length=0)
    axes.tick_params(axis="x", length=0)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylim(0, max(bottom) * 1.25 + 0.5)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color("#9ca3af")
    axes.get_xticklabels()[-1].set_fontweight("bold")  # the digest's own week
    title = f"New risk flags per week (baseline excluded), 12 weeks to {utc(digest.interval_end):%d %b %Y %H:%M} UTC"
    figure.text(0.06, 0.93, title, fontsize=8,
                fontweight="bold", color="#111827")  # fmt: skip
    axes.legend(loc="upper left", bbox_to_anchor=(0.0, 1.16), ncol=4, fontsize=6.5, frameon=False,
                handlelength=1, columnspacing=1.2)  # fmt: skip
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()


def chart_alt_text(digest: Digest) -> str:
    series = digest.chart_series()
    total = sum(sum(counts) for counts in series.values())
    this_week = sum(counts[-1] for counts in series.values())
    return (f"Bar chart: {total} new risk flags over the last 12 weeks by category; "
            f"{this_week} in the seven days to {utc(digest.interval_end):%Y-%m-%d %H:%M} UTC.")  # fmt: skip


# --- CSV --------------------------------------------------------------------------------------------
def _csv_cell(value) -> str:
    """Source text is data, not a formula: neutralise =, +, -, @ leads for spreadsheet users."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(digest: Digest) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entries in (digest.entries, digest.raised, digest.resolved):
        for entry in entries:
            for flag in entry.flags:
                writer.writerow([_csv_cell(v) for v in (
                    flag.change, entry.category, entry.name, entry.entity_kind, entry.entity_id,
                    ";".join(entry.countries), flag.pattern_id, flag.title, flag.severity,
                    flag.previous_severity or "", flag.reason, flag.first_flagged_at.astimezone(UTC).isoformat(),
                    _safe_url(entry.url) or "", flag.flag_id,  # http(s) only, as in the HTML
                )])  # fmt: skip
    return buffer.getvalue()


# --- templates --------------------------------------------------------------------------------------
def _safe_url(url: str | None) -> str | None:
    """Only http(s) links become links; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    url = url.strip()
    return url if re.match(r"^https?://[^\s\"'<>]+$", url, re.IGNORECASE) else None


def _host(url: str | None) -> str:
    match = re.match(r"^https?://([^/:?#]+)", url or "", re.IGNORECASE)
    return match.group(1).removeprefix("www.") if match else ""


def _wrap(text: str, width: int = 76, indent: str = "", first: str | None = None) -> str:
    return textwrap.fill(" ".join(str(text).split()), width=width, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)  # fmt: skip


def _party_line(party) -> str:
    roles = ", ".join(party.roles)
    group = f"; group {party.group_name}" if party.group_name and party.group_name != party.name else ""
    return f"{party.name} ({roles}) - {party.jurisdiction}, {party.ownership}{group}"


_environments: dict[str, object] = {}


def _environment():
    if "env" not in _environments:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
            autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters.update(day=_day, when=when, safe_url=_safe_url, host=_host, wrap=_wrap, party=_party_line)
        _environments["env"] = env
    return _environments["env"]


def _template_context(digest: Digest, recipients: RecipientList, chart_cid: str | None) -> dict:
    return {
        "digest": digest,
        "list": recipients,
        "subject": subject_for(digest),
        "headline": headline(digest),
        "period": period_label(digest.interval_start, digest.interval_end),
        "severities": list(reversed(SEVERITIES)),
        "severity_colours": SEVERITY_COLOURS,
        "category_labels": CATEGORY_LABELS,
        "chart_src": f"cid:{chart_cid}" if chart_cid else None,
        "chart_alt": chart_alt_text(digest) if chart_cid else "",
        "chart_width": CHART_WIDTH_PX,
        "flag_ids": digest.flag_ids(),
        "generated_for": recipients.name,
    }


def render_html(digest: Digest, recipients: RecipientList, chart_cid: str | None = None) -> str:
    return (
        _environment().get_template("digest.html.j2").render(_template_context(digest, recipients, chart_cid))
    )


def render_text(digest: Digest, recipients: RecipientList) -> str:
    return _environment().get_template("digest.txt.j2").render(_template_context(digest, recipients, None))


# --- the message ------------------------------------------------------------------------------------
def _address(value: str, display_name: str | None = None) -> Address:
    local, _, domain = value.strip().rpartition("@")
    return Address(display_name=display_name or "", username=local, domain=domain)


def build_message(
    digest: Digest, recipients: RecipientList, sender: str, date: datetime | None = None
) -> RenderedDigest:
    """The complete message for one recipient list (``digest`` already narrowed with ``for_list``)."""
    subject = subject_for(digest)
    mid = message_id(recipients.name, digest.interval_start, digest.interval_end)
    png = None if digest.is_empty else chart_png(digest)
    cid = None
    if png:
        cid = f"chart.{hashlib.sha256(mid.encode()).hexdigest()[:16]}@{PROJECT_DOMAIN}"
    html = render_html(digest, recipients, cid)
    text = render_text(digest, recipients)

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = _address(sender, SENDER_NAME)
    if recipients.to:
        message["To"] = [_address(a) for a in recipients.to]
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = mid
    message["List-Id"] = list_id(recipients.name)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["X-DSR-Watch-Interval"] = f"{digest.interval_start.isoformat()}/{digest.interval_end.isoformat()}"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    if png:
        html_part = message.get_payload()[1]
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename="dsr-watch-chart.png",
                              disposition="inline")  # fmt: skip
    csv_body, csv_name = None, None
    if not digest.is_empty:
        csv_body = csv_text(digest)
        csv_name = f"dsr-watch-{_day(digest.interval_start)}-{recipients.name}.csv"
        message.add_attachment(csv_body, subtype="csv", charset="utf-8", filename=csv_name)
    return RenderedDigest(message=message, subject=subject, message_id=mid, html=html, text=text, chart_png=png,
                          chart_cid=cid, csv_text=csv_body, csv_name=csv_name)  # fmt: skip


def write_preview(rendered: RenderedDigest, folder: Path, stem: str) -> dict[str, Path]:
    """Write <stem>.eml, <stem>.html (chart beside it as <stem>.png) into ``folder``. Each file is
    whole or absent (files.write_atomic); the .eml - the message itself - comes last, and if any
    write fails (a full disk) the files this call wrote are removed again."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"eml": folder / f"{stem}.eml", "html": folder / f"{stem}.html"}
    contents, image_src = [], None
    if rendered.chart_png:
        paths["png"] = folder / f"{stem}.png"
        contents.append((paths["png"], rendered.chart_png))
        image_src = paths["png"].name
    contents += [(paths["html"], rendered.preview_html(image_src)), (paths["eml"], rendered.message.as_bytes())]
    written: list[Path] = []
    try:
        for path, data in contents:
            written.append(write_atomic(path, data, mode=0o644))  # readable like any file the user saves
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return paths
