"""Reference seed data kept in the repository: PRC-linked organisations and country groups.

The seed files (plugins/dsrwatch/reference/*.yaml) go through the same pipeline as any public
source: stored in raw (as ``repo://`` URLs), validated, merged into core with history, so a
registry edit shows up as modified organisations and re-evaluated flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import yaml
from psycopg.types.json import Jsonb

from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise.countries import to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, normalise_name
from dsrwatch.reference.registry import REFERENCE_DIR, organisations_of
from dsrwatch.sources.base import (
    ORGANISATION_ALIASES,
    ORGANISATIONS,
    ChangeGuard,
    OrganisationCollector,
    ParsedBatch,
    RowCountBounds,
    SourceFormatError,
    SourceSpec,
)
from dsrwatch.warehouse.loading import EntityTable
from dsrwatch.warehouse.raw import RawPayload

REGISTRY_URL = "repo://dsrwatch/reference/prc_organisations.yaml"
COUNTRY_GROUPS_URL = "repo://dsrwatch/reference/country_groups.yaml"
SEED_FILES = {REGISTRY_URL: REFERENCE_DIR / "prc_organisations.yaml",
              COUNTRY_GROUPS_URL: REFERENCE_DIR / "country_groups.yaml"}  # fmt: skip

JURISDICTIONS = {"PRC", "Hong Kong", "Macau"}
OWNERSHIP = {"state", "state-influenced", "private"}

PRC_ORGANISATIONS = EntityTable(
    "core.prc_organisations",
    key=("organisation_id",),
    columns=("name", "jurisdiction", "ownership", "parent_id", "group_id", "sectors", "roles_note",
             "fact_sources", "notes"),
)  # fmt: skip
COUNTRY_GROUP_MEMBERS = EntityTable(
    "core.country_group_members",
    key=("group_id", "iso3"),
    columns=("group_name", "since_year", "until_year", "source_url"),
)

SOURCE = SourceSpec(
    name="reference_data",
    title="DSR Watch reference seeds (PRC-linked organisations, country groups)",
    category="reference",
    hosts=(),
    homepage="plugins/dsrwatch/reference/README.md",
    licence="project seed data; each fact cites its public source URL",
    attribution="DSR Watch",
    schedule="0 1 * * *",
    tables=(PRC_ORGANISATIONS, ORGANISATIONS, ORGANISATION_ALIASES, COUNTRY_GROUP_MEMBERS),
    expectations=(
        RowCountBounds("core.prc_organisations", 30, 1_000),
        RowCountBounds("core.country_group_members", 50, 500),
    ),
    views=("analyst.prc_organisations", "analyst.country_groups"),
    # The seeds are edited by hand and reviewed: a restructuring may touch every organisation.
    change_guard=ChangeGuard(max_removed_fraction=0.5, max_modified_fraction=None, max_added_fraction=None),
)


def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """The seed files as they are in this checkout (no network, whatever the fetch mode)."""
    for url, path in SEED_FILES.items():
        yield FetchedResponse(url=url, http_status=200, body=path.read_bytes(), fetched_at=datetime.now(UTC),
                              content_type="application/yaml", replayed_from=str(path))  # fmt: skip


def _load_yaml(body: bytes, url: str) -> object:
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise SourceFormatError(f"{url}: not valid YAML: {exc}") from exc


def validate_registry(entries: object, url: str = REGISTRY_URL) -> list[dict]:
    """Check the registry's invariants; every problem is named with the entry it concerns."""
    if not isinstance(entries, list):
        raise SourceFormatError(f"{url}: expected a list of organisations")
    problems: list[str] = []
    ids = {e.get("id") for e in entries if isinstance(e, dict)}
    spellings: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("name"):
            problems.append(f"entry without id or name: {entry!r:.80}")
            continue
        oid = entry["id"]
        if entry.get("jurisdiction") not in JURISDICTIONS:
            problems.append(f"{oid}: jurisdiction {entry.get('jurisdiction')!r} not in {sorted(JURISDICTIONS)}")
        if entry.get("ownership") not in OWNERSHIP:
            problems.append(f"{oid}: ownership {entry.get('ownership')!r} not in {sorted(OWNERSHIP)}")
        if entry.get("parent") and entry["parent"] not in ids:
            problems.append(f"{oid}: parent {entry['parent']!r} is not in the registry")
        for spelling in (entry["name"], *(entry.get("aliases") or [])):
            key = normalise_name(str(spelling))
            owner = spellings.setdefault(key, oid)
            if owner != oid:
                problems.append(f"alias {spelling!r} of {oid} also names {owner}")
    if len(ids) != len(entries):
        problems.append("duplicate ids")
    if problems:
        raise SourceFormatError(f"{url}: {len(problems)} problem(s): " + "; ".join(problems[:20]))
    return entries


def group_of(entries: list[dict]) -> dict[str, str]:
    """Each organisation's top ancestor (itself when it has no parent); cycles are an error."""
    parents = {e["id"]: e.get("parent") for e in entries}
    groups = {}
    for oid in parents:
        seen, current = {oid}, oid
        while parents.get(current):
            current = parents[current]
            if current in seen:
                raise SourceFormatError(f"{REGISTRY_URL}: parent chain of {oid} loops through {current}")
            seen.add(current)
        groups[oid] = current
    return groups


def parse(payloads: Iterable[RawPayload], cursor: dict | None = None) -> ParsedBatch:
    bodies = {p.url: p.body for p in payloads}
    for url in SEED_FILES:
        if url not in bodies:
            raise SourceFormatError(f"run has no {url}")
    entries = validate_registry(_load_yaml(bodies[REGISTRY_URL], REGISTRY_URL))
    groups = group_of(entries)
    organisations = OrganisationCollector(OrganisationResolver(organisations_of(entries)))
    registry_rows = []
    for e in entries:
        for spelling in (e["name"], *(e.get("aliases") or [])):
            organisations.resolve(str(spelling))
        registry_rows.append((
            e["id"], e["name"], e["jurisdiction"], e["ownership"], e.get("parent"), groups[e["id"]],
            Jsonb(sorted(e.get("sectors") or [])), e.get("roles_note"), Jsonb(e.get("sources") or {}),
            " ".join(str(e.get("notes") or "").split()) or None,
        ))  # fmt: skip

    doc = _load_yaml(bodies[COUNTRY_GROUPS_URL], COUNTRY_GROUPS_URL)
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise SourceFormatError(f"{COUNTRY_GROUPS_URL}: expected a mapping with a 'groups' list")
    members, warnings = [], []
    for group in doc["groups"]:
        for member in group.get("members") or []:
            iso3 = str(member.get("iso3", "")).upper()
            if to_iso3(iso3) != iso3:
                raise SourceFormatError(f"{COUNTRY_GROUPS_URL}: {group.get('id')}: {iso3!r} is not an ISO3 code")
            members.append((group["id"], iso3, group.get("name") or group["id"], member.get("since"),
                            member.get("until"), group.get("source")))  # fmt: skip
    return ParsedBatch(
        rows={PRC_ORGANISATIONS.table: registry_rows, **organisations.rows(), COUNTRY_GROUP_MEMBERS.table: members},
        entities=len(registry_rows),
        warnings=warnings,
    )
