"""Who takes part in a deal: PRC-linked firms named in a text, the registry's technology vendors,
and the kind of government body a buyer is."""

from __future__ import annotations

import re
from functools import cache

from dsrwatch.normalise.components import PhraseIndex
from dsrwatch.normalise.organisations import normalise_name
from dsrwatch.reference.registry import load_registry

# Registry sectors of technology vendors. Firms with a digital SERVICE sector (Huawei, ZTE,
# Hikvision, CEIEC, Inspur...) make a project digital infrastructure by taking part in it; firms
# that only make EQUIPMENT or cable (ZTT, Hengtong also build power lines and sell insulators)
# are vendors when they take part, but their projects need a digital component to count.
SERVICE_SECTORS = frozenset({"systems-integrator", "surveillance", "biometrics", "cloud", "data-centre",
                             "telecom-operator"})  # fmt: skip
EQUIPMENT_SECTORS = frozenset({"equipment", "submarine-cable-supplier", "submarine-cable-owner"})

# Government body types (core.government_hosting.body_type), first match wins.
BODY_TYPES = (
    ("police", re.compile(r"\b(polic\w*|gendarm\w*|carabinier\w*)", re.I)),
    ("intelligence", re.compile(r"\bintelligence\b", re.I)),
    ("military", re.compile(r"\b(defen[cs]e|armed forces|army|military)\b", re.I)),
    ("security", re.compile(r"\b(interior|internal affairs|home affairs|public security|state security|"
                            r"national security|border)\b", re.I)),  # fmt: skip
    ("local", re.compile(r"\b(city|municipal\w*|county|metropolitan|district|province|provincial|mayor\w*|"
                         r"capital territory|governorate)\b", re.I)),  # fmt: skip
)


def government_body_type(name: str) -> str:
    for body_type, pattern in BODY_TYPES:
        if pattern.search(name):
            return body_type
    return "government"


# -- organisations named in project texts and headlines ------------------------------------------
@cache
def registry_mentions() -> tuple[PhraseIndex, dict[str, frozenset[str]]]:
    """A phrase index over every registry name and alias, and each organisation's sectors.

    Short all-capital aliases (ZTE, CEIEC, ICBC) must match in capitals; other spellings match
    in their normalised form (legal suffixes dropped), so "Huawei Technologies Co., Ltd." is
    found as "Huawei Technologies"."""
    entries, sectors = [], {}
    for entry in load_registry():
        sectors[entry["id"]] = frozenset(entry.get("sectors") or ())
        for spelling in (entry["name"], *(entry.get("aliases") or ())):
            if re.fullmatch(r"[A-Z0-9]{2,7}", spelling):
                entries.append((entry["id"], spelling, True))
            elif normalised := normalise_name(spelling):
                entries.append((entry["id"], normalised, False))
    return PhraseIndex(entries), sectors


@cache
def vendor_ids() -> frozenset[str]:
    """Registry organisations that supply technology (service or equipment sectors)."""
    _, sectors = registry_mentions()
    return frozenset(org_id for org_id, s in sectors.items() if s & (SERVICE_SECTORS | EQUIPMENT_SECTORS))


@cache
def digital_vendor_ids() -> frozenset[str]:
    """Registry organisations whose taking part alone makes a project digital infrastructure."""
    _, sectors = registry_mentions()
    return frozenset(org_id for org_id, s in sectors.items() if s & SERVICE_SECTORS)


def mentioned_organisations(*texts: str | None) -> list[str]:
    """Registry ids of the organisations the texts name, in order of first mention."""
    index, _ = registry_mentions()
    found: list[str] = []
    for text in texts:
        found.extend(org_id for org_id in index.find(text) if org_id not in found)
    return found
