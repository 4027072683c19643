"""DSR Watch benchmark: streaming parse of an AidData GCDF 3.0-sized release.

Builds a synthetic release zip (21,000 rows x 126 columns: the official GCDF 3.0 column names
plus filler columns where the documentation does not name them, long descriptions, '|'-separated
agencies, ~5% digital projects) in bench/out/aiddata/, then measures in fresh child processes:

* import  - the interpreter with openpyxl and the source module loaded (the floor);
* iterate - the baseline: unzip the workbook to a temporary file and iterate every row of the
            sheet with openpyxl in read-only mode, values only, doing nothing with them;
* parse   - ``dsrwatch.sources.aiddata.parse`` on the same bytes, as the load task runs it (the
            sheet read by calamine, then the relevance filter, parties and components);
* verify  - not timed: the records of ``aiddata.open_release`` (calamine) against a reference read of
            the same release with openpyxl in read-only mode, value by value and type by type; any
            difference fails the benchmark (exit 2) naming the first one.

Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of each child; time is wall clock.
Figures are printed with ratios against the baseline and written to bench/out/aiddata_stream.json.
Targets: parse time <= 0.3x the baseline's, measured in the same run; parse peak RSS <= 300 MB.

    .venv/bin/python bench/aiddata_stream.py            # builds the workbook once, then reuses it
    .venv/bin/python bench/aiddata_stream.py --rows 2000 --rebuild
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "aiddata"
TARGET_RSS_MB = 300
TARGET_TIME_RATIO = 0.3  # parse seconds / iterate seconds
TOTAL_COLUMNS = 126

sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "tests"))


def columns() -> list[str]:
    """126 names: the documented GCDF 3.0 columns in order, fillers where the documentation has '...'."""
    from helpers.deals_fixtures import GCDF3_LEADING_COLUMNS, GCDF3_SCORE_COLUMNS, GCDF3_SOURCE_COLUMNS

    named = len(GCDF3_LEADING_COLUMNS) + len(GCDF3_SOURCE_COLUMNS) + len(GCDF3_SCORE_COLUMNS)
    fillers = [f"Filler Column {i:02d}" for i in range(TOTAL_COLUMNS - named)]
    half = len(fillers) // 2
    return [*GCDF3_LEADING_COLUMNS, *fillers[:half], *GCDF3_SOURCE_COLUMNS, *fillers[half:], *GCDF3_SCORE_COLUMNS]


WORDS = ("project loan agreement government ministry construction phase disbursement interest maturity grace "
         "period commitment fee contractor implementation completion road bridge hospital school power plant "
         "transmission line water supply irrigation equipment training scholarship stadium housing port airport "
         "railway station expansion rehabilitation upgrade financing bank credit facility signed ceremony attended "
         "ambassador according official report media sources").split()  # fmt: skip
SECTORS = ("ENERGY", "TRANSPORT AND STORAGE", "EDUCATION", "HEALTH", "INDUSTRY, MINING, CONSTRUCTION",
           "WATER SUPPLY AND SANITATION", "GOVERNMENT AND CIVIL SOCIETY", "AGRICULTURE, FORESTRY, FISHING",
           "OTHER SOCIAL INFRASTRUCTURE AND SERVICES", "EMERGENCY RESPONSE")  # fmt: skip
FUNDERS = (("China Eximbank", "State-owned Policy Bank"), ("China Development Bank", "State-owned Policy Bank"),
           ("Chinese Government", "Government Agency"), ("Bank of China (BOC)", "State-owned Commercial Bank"),
           ("Industrial and Commercial Bank of China (ICBC)", "State-owned Commercial Bank"))  # fmt: skip
BUILDERS = (("China Road and Bridge Corporation", "Chinese State-owned Company"),
            ("Sinohydro Corporation Limited", "Chinese State-owned Company"),
            ("China Harbour Engineering Company Ltd.", "Chinese State-owned Company"),
            ("Local Works Contractor", "Recipient Private Sector"))  # fmt: skip
DIGITAL = (("Huawei Technologies Co., Ltd.", "Chinese Private Sector"), ("ZTE Corporation", "Chinese State-owned Company"),
           ("China National Electronics Import & Export Corporation", "Chinese State-owned Company"))  # fmt: skip
COUNTRIES = (("Kenya", "KEN"), ("Pakistan", "PAK"), ("Ecuador", "ECU"), ("Angola", "AGO"), ("Laos", "LAO"),
             ("Serbia", "SRB"), ("Zambia", "ZMB"), ("Bangladesh", "BGD"), ("Africa, regional", None))  # fmt: skip


def synthetic_row(i: int, rng: random.Random, names: list[str]) -> list[object]:
    country, iso3 = rng.choice(COUNTRIES)
    digital = rng.random() < 0.05
    funder, funder_type = rng.choice(FUNDERS)
    builder, builder_type = rng.choice(DIGITAL if digital else BUILDERS)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(120, 260)))
    if digital:
        title = rng.choice(("Safe City Project", "National Data Center", "Fibre Optic Backbone Project",
                            "E-Government Network", "4G mobile network expansion"))  # fmt: skip
        text += f" The system includes {rng.choice(('CCTV cameras', 'a command and control centre', 'facial recognition', 'a government cloud'))}."
        sector = "COMMUNICATIONS" if rng.random() < 0.6 else "GOVERNMENT AND CIVIL SOCIETY"
    else:
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {rng.choice(WORDS)} project"
        sector = rng.choice(SECTORS)
    values = {
        "AidData Record ID": 100000 + i, "Recommended For Aggregates": "Yes", "Umbrella": "No",
        "Financier Country": "China (People's Republic of)", "Recipient": country, "Recipient ISO-3": iso3,
        "Recipient Region": "Africa", "Commitment Year": rng.randint(2000, 2021), "Title": f"{funder} funds {title}",
        "Description": text, "Status": rng.choice(("Completion", "Implementation", "Pipeline: Commitment")),
        "Flow Type": rng.choice(("Loan", "Grant", "Supplier’s Credit/Export Seller’s Credit")), "Sector Name": sector,
        "Funding Agencies": funder, "Funding Agencies Type": funder_type,
        "Direct Receiving Agencies": f"Ministry of Finance of {country}",
        "Direct Receiving Agencies Type": "Recipient Government Agency",
        "Implementing Agencies": f"{builder}|Ministry of Works of {country}",
        "Implementing Agencies Type": f"{builder_type}|Recipient Government Agency",
        "Amount (Constant USD 2021)": round(rng.uniform(1e5, 2e9), 2),
        "Source URLs": "|".join(f"https://example.org/source/{i}/{k}" for k in range(rng.randint(1, 5))),
        "Commitment Date (MM/DD/YYYY)": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2000, 2021)}",
    }  # fmt: skip
    row = []
    for name in names:
        if name in values:
            row.append(values[name])
        elif name.startswith("Filler") or rng.random() < 0.3:
            row.append(rng.choice((None, None, "Yes", "No", rng.randint(0, 10_000), f"note {rng.random():.6f}")))
        else:
            row.append(rng.choice((None, "Yes", "No", rng.randint(1, 5))))
    return row


def build_release(path: Path, rows: int) -> None:
    """The synthetic workbook, written row by row (openpyxl write-only), zipped like the release."""
    from openpyxl import Workbook

    names = columns()
    rng = random.Random(2023)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("GCDF_3.0")
    sheet.append(names)
    for i in range(rows):
        sheet.append(synthetic_row(i, rng, names))
    xlsx = path.with_suffix(".xlsx")
    workbook.save(xlsx)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(xlsx, "AidDatasGlobalChineseDevelopmentFinanceDataset_v3.0.xlsx")
        archive.writestr("README.txt", "Synthetic GCDF 3.0-shaped release for the DSR Watch benchmark\n")
    xlsx.unlink()


# -- measurements, each in a fresh child process ---------------------------------------------------
def measure(kind: str, path: Path) -> dict:
    started = time.perf_counter()
    from dsrwatch.sources import aiddata
    from dsrwatch.warehouse.raw import RawPayload

    result: dict = {}
    if kind == "import":
        from dsrwatch.deals import registry_mentions

        registry_mentions()
        from dsrwatch.normalise.components import default_taxonomy

        default_taxonomy()
    elif kind == "iterate":
        import shutil
        import tempfile

        import openpyxl

        body = path.read_bytes()  # the load task gets the body as bytes from raw, too
        with zipfile.ZipFile(__import__("io").BytesIO(body)) as archive, tempfile.TemporaryFile() as spool:
            member = max(archive.infolist(), key=lambda i: i.file_size)
            with archive.open(member) as source:
                shutil.copyfileobj(source, spool, 1 << 20)
            spool.seek(0)
            workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
            sheet = workbook["GCDF_3.0"]
            sheet.reset_dimensions()
            count = sum(1 for _ in sheet.iter_rows(values_only=True))
            workbook.close()
        result["rows"] = count - 1
    elif kind == "parse":
        body = path.read_bytes()
        batch = aiddata.parse([RawPayload(aiddata.RELEASE_URL, body)])
        result.update(deals=batch.entities, parties=len(batch.rows["core.deal_parties"]),
                      components=len(batch.rows["core.deal_components"]), note=batch.warnings[0])  # fmt: skip
    elif kind == "verify":
        result.update(verify(path.read_bytes()))
    else:
        raise SystemExit(f"unknown measurement {kind}")
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return result


def reference_records(body: bytes) -> tuple[str, Iterator[dict[str, object]]]:
    """The release read the way the parser did before calamine: the workbook unzipped to a temporary
    file, the GCDF_ sheet streamed by openpyxl (read-only, values only, recorded dimensions ignored),
    the official columns the parser reads, rows without a record id skipped."""
    import io
    import shutil
    import tempfile

    import openpyxl

    from dsrwatch.sources import aiddata

    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        member = max((i for i in archive.infolist() if i.filename.endswith(".xlsx")), key=lambda i: i.file_size)
        with archive.open(member) as source:
            shutil.copyfileobj(source, spool, 1 << 20)
    spool.seek(0)
    workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
    name = next(s for s in workbook.sheetnames if s.startswith(aiddata.SHEET_PREFIX))
    sheet = workbook[name]
    sheet.reset_dimensions()

    def records() -> Iterator[dict[str, object]]:
        try:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows)
            positions = {" ".join(str(h).split()): i for i, h in enumerate(header) if h is not None}
            wanted = {c: positions.get(c) for c in aiddata.REQUIRED_COLUMNS + aiddata.OPTIONAL_COLUMNS}
            for row in rows:
                values = {c: row[i] if i is not None and i < len(row) else None for c, i in wanted.items()}
                if values[aiddata.RECORD_ID] is not None and str(values[aiddata.RECORD_ID]).strip() != "":
                    yield values
        finally:
            workbook.close()
            spool.close()

    return name.removeprefix(aiddata.SHEET_PREFIX), records()


def typed(record: dict[str, object]) -> list[tuple[str, str, object]]:
    """A record compared strictly: 2010 and 2010.0 (or True and 1) differ."""
    return [(name, type(value).__name__, value) for name, value in record.items()]


def verify(body: bytes) -> dict:
    """The parser's records against the openpyxl reference, in step (both stream); SystemExit(2) on a difference."""
    from itertools import zip_longest

    from dsrwatch.sources import aiddata

    ref_release, reference = reference_records(body)
    compared = 0
    with aiddata.open_release(body) as (release, records):
        if release != ref_release:
            raise SystemExit(f"RECORDS DIFFER: release {release!r} (calamine) vs {ref_release!r} (openpyxl)")
        for ours, theirs in zip_longest(records, reference):
            if ours is None or theirs is None or typed(ours) != typed(theirs):
                diff = ([(n, o, t) for (n, *o), (_, *t) in zip(typed(ours), typed(theirs), strict=True) if o != t]
                        if ours and theirs else f"one reader ended first (ours {ours is not None}, openpyxl {theirs is not None})")  # fmt: skip
                print(f"RECORDS DIFFER at record {compared + 1}: {diff}", file=sys.stderr)
                raise SystemExit(2)
            compared += 1
    return {"records_compared": compared, "records_identical": True}


def in_child(kind: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT / 'tests'}"}
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--path", str(path)],
                         env=env, capture_output=True, text=True, check=False)  # fmt: skip
    if out.returncode != 0:
        print(f"{kind} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=21_000)
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic workbook even if present")
    parser.add_argument("--repeat", type=int, default=1, help="measure each child this many times, keep the best")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.path))))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    release = OUT / f"gcdf3_synthetic_{args.rows}x{TOTAL_COLUMNS}.zip"
    if args.rebuild or not release.exists():
        started = time.perf_counter()
        build_release(release, args.rows)
        print(f"built {release.relative_to(ROOT)} ({release.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - started:.1f}s")  # fmt: skip

    runs = {kind: min((in_child(kind, release) for _ in range(args.repeat)), key=lambda r: r["seconds"])
            for kind in ("import", "iterate", "parse")}  # fmt: skip
    check = in_child("verify", release)  # exits 2 (loudly) if the records differ
    base, ours, floor = runs["iterate"], runs["parse"], runs["import"]
    time_ratio = ours["seconds"] / base["seconds"]
    report = {
        "release": str(release.relative_to(ROOT)), "rows": args.rows, "columns": TOTAL_COLUMNS,
        "zip_mb": round(release.stat().st_size / 1e6, 1), "runs": runs,
        "baseline_seconds": base["seconds"], "parse_seconds": ours["seconds"], "parse_peak_rss_mb": ours["peak_rss_mb"],
        "records_compared": check["records_compared"], "records_identical": check["records_identical"],
        "ratios": {"parse_time_vs_iterate": time_ratio,
                   "parse_rss_vs_iterate": ours["peak_rss_mb"] / base["peak_rss_mb"],
                   "parse_rss_above_import_vs_iterate_above_import":
                       (ours["peak_rss_mb"] - floor["peak_rss_mb"]) / max(1e-9, base["peak_rss_mb"] - floor["peak_rss_mb"])},
        "target_time_ratio": TARGET_TIME_RATIO, "target_peak_rss_mb": TARGET_RSS_MB,
        "meets_time_target": time_ratio <= TARGET_TIME_RATIO, "meets_rss_target": ours["peak_rss_mb"] <= TARGET_RSS_MB,
    }  # fmt: skip
    report["meets_target"] = report["meets_time_target"] and report["meets_rss_target"]
    (OUT.parent / "aiddata_stream.json").write_text(json.dumps(report, indent=2))
    print(f"{'':<9}{'seconds':>9}{'peak RSS MB':>13}")
    for kind, label in (("import", "import"), ("iterate", "iterate"), ("parse", "parse")):
        print(f"{label:<9}{runs[kind]['seconds']:>9.1f}{runs[kind]['peak_rss_mb']:>13.0f}")
    r = report["ratios"]
    print(f"parse vs baseline (openpyxl read-only iteration): time x{r['parse_time_vs_iterate']:.2f}, "
          f"peak RSS x{r['parse_rss_vs_iterate']:.2f} (above the import floor: "
          f"x{r['parse_rss_above_import_vs_iterate_above_import']:.2f})")  # fmt: skip
    print(f"{ours['note']}; {ours['parties']} parties, {ours['components']} components")
    print(f"records identical to an openpyxl reference read: {check['records_compared']} compared")
    print(f"parse time {ours['seconds']:.1f}s = x{time_ratio:.2f} the baseline's {base['seconds']:.1f}s, target <= "
          f"x{TARGET_TIME_RATIO}: {'met' if report['meets_time_target'] else 'MISSED'}")
    print(f"peak RSS {ours['peak_rss_mb']:.0f} MB, target <= {TARGET_RSS_MB} MB: "
          f"{'met' if report['meets_rss_target'] else 'MISSED'}  -> bench/out/aiddata_stream.json")  # fmt: skip
    return 0  # a missed target is reported (above and in the JSON); only wrong records fail the run


if __name__ == "__main__":
    sys.exit(main())
