"""Measure the flags against the gold set (``tests/gold/cases.yaml``): precision and recall per
pattern and per category, every miss and every false flag with its reasoning, and a verdict
against the thresholds the gold file sets. Run after ``make run`` on real data: ``make evaluate``.

A case says which patterns an entity must and must not carry. Counting, per (case, pattern):
must and open flag -> true positive; must and no flag -> miss (false negative); must_not and open
flag -> false flag (false positive). Entities missing from the warehouse are "not loaded".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsrwatch import config
from dsrwatch.vocabulary import KIND_CATEGORIES

GOLD_FILE = config.PROJECT_ROOT / "tests" / "gold" / "cases.yaml"


@dataclass(frozen=True)
class Case:
    kind: str
    entity_id: str
    must: tuple[str, ...]
    must_not: tuple[str, ...]
    source: str
    reasoning: str

    @property
    def category(self) -> str:
        return KIND_CATEGORIES.get(self.kind, self.kind)


@dataclass
class Tally:
    true_positives: int = 0
    false_negatives: int = 0
    false_positives: int = 0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else None


@dataclass
class Report:
    by_pattern: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[str] = field(default_factory=list)
    false_flags: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def pct(value: float | None) -> str:
            return "   -  " if value is None else f"{value:6.1%}"

        out = ["pattern / category          TP   FN   FP  precision  recall"]
        for table in (self.by_pattern, self.by_category):
            for name, t in sorted(table.items()):
                out.append(f"  {name:<24} {t.true_positives:4} {t.false_negatives:4} {t.false_positives:4}  "
                           f"{pct(t.precision)}  {pct(t.recall)}")  # fmt: skip
            out.append("")
        for heading, items in (("Misses (a pattern the case must have is not flagged)", self.misses),
                               ("False flags (an open flag the case must not have)", self.false_flags),
                               ("Not loaded (not counted)", self.not_loaded),
                               ("Below threshold", self.failures)):  # fmt: skip
            out.append(f"{heading}: {len(items)}")
            out += [f"  - {item}" for item in items]
        return out


def load_gold(path: Path = GOLD_FILE) -> tuple[list[Case], dict[str, dict[str, float]]]:
    data = yaml.safe_load(path.read_text())
    cases = [Case(kind=c["kind"], entity_id=str(c["entity_id"]), must=tuple(c.get("must") or ()),
                  must_not=tuple(c.get("must_not") or ()), source=c["source"], reasoning=c["reasoning"])
             for c in data["cases"]]  # fmt: skip
    for case in cases:
        overlap = set(case.must) & set(case.must_not)
        if overlap or not case.source.startswith("http"):
            raise ValueError(f"gold case {case.kind} {case.entity_id}: must and must_not overlap ({overlap}) "
                             "or the source is not a URL")  # fmt: skip
    return cases, data.get("thresholds") or {}


def evaluate(conn, cases: list[Case], thresholds: dict[str, dict[str, float]]) -> Report:
    """``conn``: a psycopg connection to the warehouse."""
    present = {tuple(r) for r in conn.execute("SELECT entity_kind, entity_id FROM risk.entities")}
    flagged: dict[tuple[str, str], set[str]] = defaultdict(set)
    for kind, entity_id, pattern in conn.execute(
        "SELECT entity_kind, entity_id, pattern_id FROM risk.flags WHERE resolved_at IS NULL"
    ):
        flagged[(kind, entity_id)].add(pattern)
    report = Report()
    for case in cases:
        key = (case.kind, case.entity_id)
        name = f"{case.kind} {case.entity_id}"
        if key not in present:
            report.not_loaded.append(name)
            continue
        open_patterns = flagged.get(key, set())
        for pattern in case.must:
            tally_kind = "true_positives" if pattern in open_patterns else "false_negatives"
            for table, label in ((report.by_pattern, pattern), (report.by_category, case.category)):
                setattr(table[label], tally_kind, getattr(table[label], tally_kind) + 1)
            if pattern not in open_patterns:
                report.misses.append(f"{name}: {pattern} - {case.reasoning} ({case.source})")
        for pattern in case.must_not:
            if pattern in open_patterns:
                report.by_pattern[pattern].false_positives += 1
                report.by_category[case.category].false_positives += 1
                report.false_flags.append(f"{name}: {pattern} - {case.reasoning} ({case.source})")
    for category, limits in thresholds.items():
        tally = report.by_category.get(category)
        for measure, minimum in limits.items():
            value = getattr(tally, measure) if tally else None
            if value is not None and value < minimum:
                report.failures.append(f"{category} {measure} {value:.1%} < {minimum:.0%}")
    return report
