"""The project's words, defined once: severities with their score weights, and the categories of
risk entities with their labels and entity kinds. Python reads them here; SQL reads the tables
``risk.severities`` and ``risk.entity_categories``, which ``warehouse.schema.ensure_schema``
keeps equal to this module."""

from __future__ import annotations

from types import MappingProxyType

# Lowest first. Weights make the entity score (README "Risk flags"): each step doubles.
SEVERITY_WEIGHTS = MappingProxyType({"low": 1, "medium": 2, "high": 4, "critical": 8})
SEVERITIES = tuple(SEVERITY_WEIGHTS)

# category -> (label for readers, entity kind of the risk views); in the digest's order.
_CATEGORIES = {
    "cables": ("Submarine cables", "submarine_cable"),
    "cloud": ("Cloud regions", "cloud_region"),
    "data_centres": ("Data centres", "data_centre"),
    "deals": ("Deals", "deal"),
}
CATEGORIES = tuple(_CATEGORIES)
CATEGORY_LABELS = MappingProxyType({category: label for category, (label, _) in _CATEGORIES.items()})
KIND_CATEGORIES = MappingProxyType({kind: category for category, (_, kind) in _CATEGORIES.items()})


def severity_rows() -> list[tuple[str, int, int]]:
    """(severity, weight, rank from 1) for risk.severities."""
    return [(name, weight, rank) for rank, (name, weight) in enumerate(SEVERITY_WEIGHTS.items(), start=1)]


def category_rows() -> list[tuple[str, str, str, int]]:
    """(entity_kind, category, label, position) for risk.entity_categories."""
    return [(kind, category, label, position)
            for position, (category, (label, kind)) in enumerate(_CATEGORIES.items(), start=1)]  # fmt: skip
