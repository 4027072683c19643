"""Small hand-made Our World in Data grapher CSVs in the exact shape of ``political-regime.csv``.

Shape as published: header ``Entity,Code,Year,Political regime``, LF line endings, UTF-8 without
BOM, no newline after the last row, sorted by entity then year. The rows mix what the parser
must handle: ISO3 countries, OWID's historical entities (``OWID_GDR``), Kosovo as ``OWID_KOS``,
entities with an empty code, and a country whose series stops early (Vatican).
"""

from __future__ import annotations

import copy
from pathlib import Path

PATH = "ourworldindata.org/grapher/political-regime.csv"
HEADER = ("Entity", "Code", "Year", "Political regime")

YEARS = (2021, 2022, 2023, 2024)

# entity, code, {year: regime}
ENTITIES: list[tuple[str, str, dict[int, int]]] = [
    ("China", "CHN", dict.fromkeys(YEARS, 0)),
    ("East Germany", "OWID_GDR", {1988: 0, 1989: 0, 1990: 2}),
    ("Ecuador", "ECU", dict.fromkeys(YEARS, 2)),
    ("France", "FRA", dict.fromkeys(YEARS, 3)),
    ("Hamburg", "", {1866: 1, 1867: 1}),
    ("Kenya", "KEN", {2021: 1, 2022: 2, 2023: 2, 2024: 2}),
    ("Kosovo", "OWID_KOS", {2022: 2, 2023: 2, 2024: 2}),
    ("Pakistan", "PAK", dict.fromkeys(YEARS, 1)),
    ("Palestine/Gaza", "", {2023: 0, 2024: 0}),
    ("Papua New Guinea", "PNG", dict.fromkeys(YEARS, 1)),
    ("Serbia", "SRB", {2021: 1, 2022: 1, 2023: 1, 2024: 1}),
    ("Vatican", "VAT", {1860: 0, 1861: 0}),
]

# What the parser should load: every ISO entity plus Kosovo as XKX.
LOADED_ROWS = sum(
    len(years) for _, code, years in ENTITIES if code and (not code.startswith("OWID_") or code == "OWID_KOS")
)
SKIPPED_ROWS = sum(
    len(years) for _, code, years in ENTITIES if not code or (code.startswith("OWID_") and code != "OWID_KOS")
)


def rows_of(entities: list[tuple[str, str, dict[int, int]]] | None = None) -> list[tuple[str, str, str, str]]:
    entities = ENTITIES if entities is None else entities
    return [(name, code, str(year), str(regime))
            for name, code, years in sorted(entities) for year, regime in sorted(years.items())]  # fmt: skip


def regime_csv(rows: list[tuple[str, ...]] | None = None, header: tuple[str, ...] = HEADER) -> bytes:
    """The CSV body: header and rows joined by LF, no trailing newline (as OWID serves it)."""
    rows = rows_of() if rows is None else rows
    return "\n".join(",".join(fields) for fields in [header, *rows]).encode("utf-8")


def entities_v2() -> list[tuple[str, str, dict[int, int]]]:
    """v1 with exactly one country-year changed: Serbia 2024 from electoral autocracy to democracy."""
    entities = copy.deepcopy(ENTITIES)
    for name, _, years in entities:
        if name == "Serbia":
            years[2024] = 2
    return entities


def write_replay_dir(root: Path, body: bytes | None = None) -> Path:
    """Write ``<root>/ourworldindata.org/grapher/political-regime.csv``; returns ``root``."""
    target = root / PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(regime_csv() if body is None else body)
    return root
