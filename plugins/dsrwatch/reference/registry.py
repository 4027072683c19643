"""The registry of PRC-linked organisations (prc_organisations.yaml) and the resolver built on it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from dsrwatch.normalise.organisations import OrganisationResolver, RegistryOrganisation

REFERENCE_DIR = Path(__file__).parent
REGISTRY_FILE = REFERENCE_DIR / "prc_organisations.yaml"


@cache
def load_registry(path: Path = REGISTRY_FILE) -> tuple[dict, ...]:
    """The registry entries as written in the seed file (empty if there is none yet)."""
    if not path.exists():
        return ()
    entries = yaml.safe_load(path.read_text()) or []
    return tuple(entries)


def organisations_of(entries) -> list[RegistryOrganisation]:
    """Registry entries (as in the seed file) -> what the resolver matches names against."""
    return [RegistryOrganisation(e["id"], e["name"], tuple(e.get("aliases") or ())) for e in entries]


def registry_organisations(path: Path = REGISTRY_FILE) -> list[RegistryOrganisation]:
    return organisations_of(load_registry(path))


@cache
def default_resolver() -> OrganisationResolver:
    return OrganisationResolver(registry_organisations())
