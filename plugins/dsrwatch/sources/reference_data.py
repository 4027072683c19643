"""Reference seed data kept in the repository: PRC-linked organisations and country groups.

The seed files (plugins/dsrwatch/reference/*.yaml) go through the same pipeline as any public
source: stored in raw (as ``repo://`` URLs), validated, merged into core with history, so a
registry edit shows up as modified organisations and re-evaluated flags.

Bad records: a registry entry that breaks its own rules (not a mapping, no id or name, a
jurisdiction or ownership outside the lists, a parent that is not in the registry, a field of the
wrong type) is set aside, the organisation keeps its previous version and the other entries load;
two entries with one id and different values are both set aside. A country-group member that is
not an ISO3 code or has a year that is not a year is set aside too (the run then marks nothing
removed, as a set-aside member cannot keep its row otherwise). What makes the registry itself
inconsistent fails the run: a file that is not YAML or not a list, one spelling naming two
organisations (every source's resolver would be ambiguous), a parent chain that loops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

import yaml

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
    Range,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    record_key,
    set_aside_on_error,
)
from dsrwatch.warehouse.tables import EntityTable, RawPayload

REGISTRY_URL = "repo://dsrwatch/reference/prc_organisations.yaml"
COUNTRY_GROUPS_URL = "repo://dsrwatch/reference/country_groups.yaml"
CORRECTIONS_URL = "repo://dsrwatch/reference/corrections.yaml"
SEED_FILES = {REGISTRY_URL: REFERENCE_DIR / "prc_organisations.yaml",
              COUNTRY_GROUPS_URL: REFERENCE_DIR / "country_groups.yaml",
              CORRECTIONS_URL: REFERENCE_DIR / "corrections.yaml"}  # fmt: skip

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
    # The groups date from 1946 (UKUSA) on.
    rules=(Range("since_year", 1900, 2100), Range("until_year", 1900, 2100)),
)

CORRECTIONS = EntityTable(
    "core.corrections",
    key=("correction_id",),
    columns=("entity_kind", "entity_id", "correction", "effective", "source_url", "note"),
)
CORRECTION_KINDS = {"closed"}

SOURCE = SourceSpec(
    name="reference_data",
    title="DSR Watch reference seeds (PRC-linked organisations, country groups)",
    category="reference",
    hosts=(),
    homepage="plugins/dsrwatch/reference/README.md",
    licence="project seed data; each fact cites its public source URL",
    attribution="DSR Watch",
    schedule="0 1 * * *",
    tables=(PRC_ORGANISATIONS, ORGANISATIONS, ORGANISATION_ALIASES, COUNTRY_GROUP_MEMBERS, CORRECTIONS),
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


def _is_text(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value


def _entry_problems(entry: object, ids: set[str]) -> list[str]:
    """What is wrong with one registry entry on its own (its id aside)."""
    if not isinstance(entry, dict):
        return [f"expected a mapping per organisation, got {type(entry).__name__}: {entry!r:.80}"]
    if not entry.get("id") or not entry.get("name"):
        return [f"entry without id or name: {entry!r:.80}"]
    problems = []
    if not _is_text(entry["id"]) or not _is_text(entry["name"]):
        problems.append("id and name must be text")
    if entry.get("jurisdiction") not in JURISDICTIONS:
        problems.append(f"jurisdiction {entry.get('jurisdiction')!r} not in {sorted(JURISDICTIONS)}")
    if entry.get("ownership") not in OWNERSHIP:
        problems.append(f"ownership {entry.get('ownership')!r} not in {sorted(OWNERSHIP)}")
    parent = entry.get("parent")
    if parent and (not isinstance(parent, str) or parent not in ids):
        problems.append(f"parent {parent!r} is not in the registry")
    for field in ("aliases", "sectors"):
        values = entry.get(field)
        if values is not None and not (isinstance(values, list) and all(_is_text(v) for v in values)):
            problems.append(f"{field}: expected a list of names, got {values!r:.80}")
    sources = entry.get("sources")
    if sources is not None and not (isinstance(sources, dict) and all(_is_text(k) and _is_text(v)
                                                                      for k, v in sources.items())):  # fmt: skip
        problems.append(f"sources: expected a map from fact to URL, got {sources!r:.80}")
    for field in ("roles_note", "notes"):
        if entry.get(field) is not None and not isinstance(entry[field], str):
            problems.append(f"{field}: expected text, got {type(entry[field]).__name__}")
    return problems


def check_registry(entries: object, url: str = REGISTRY_URL) -> tuple[list[dict], list[SetAside]]:
    """(entries that keep the registry's rules, entries set aside with their problems). Problems of
    the registry as a whole - not a list, one spelling naming two organisations - raise
    SourceFormatError. Two entries with one id both pass: validation sets them aside if they differ."""
    if not isinstance(entries, list):
        raise SourceFormatError(f"{url}: expected a list of organisations")
    ids = {e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
    good, set_aside, collisions = [], [], []
    spellings: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        problems = _entry_problems(entry, ids)
        oid = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"] else None
        if problems:
            set_aside.append(SetAside(PRC_ORGANISATIONS.table, record_key(oid or f"entry #{number}"), None, None,
                                      "; ".join(problems), url, (oid,) if oid else None))  # fmt: skip
            continue
        for spelling in (entry["name"], *(entry.get("aliases") or [])):
            owner = spellings.setdefault(normalise_name(str(spelling)), oid)
            if owner != oid:
                collisions.append(f"alias {spelling!r} of {oid} also names {owner}")
        good.append(entry)
    if collisions:
        raise SourceFormatError(f"{url}: {len(collisions)} problem(s): " + "; ".join(collisions[:20]) +
                                "; a spelling must name one organisation (every source resolves names with it)")  # fmt: skip
    return good, set_aside


def validate_registry(entries: object, url: str = REGISTRY_URL) -> list[dict]:
    """Check the registry's invariants, all of them fatal (as a test or a review would); every
    problem is named with the entry it concerns."""
    good, set_aside = check_registry(entries, url)
    problems = [f"{s.record_key}: {s.reason}" if s.entity_key else s.reason for s in set_aside]
    if len({e["id"] for e in good}) != len(good):
        problems.append("duplicate ids")
    if problems:
        raise SourceFormatError(f"{url}: {len(problems)} problem(s): " + "; ".join(problems[:20]))
    return good


def group_of(entries: list[dict]) -> dict[str, str]:
    """Each organisation's top ancestor (itself when it has no parent); cycles are an error."""
    parents = {e["id"]: e.get("parent") if isinstance(e.get("parent"), str) else None for e in entries}
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


def _year(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{what}: expected a year, got {type(value).__name__} {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a year") from None


def _country_group_members(doc: object, url: str, set_aside: list[SetAside]) -> tuple[list[tuple], bool]:
    """Rows of core.country_group_members, and whether every member could be read."""
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise SourceFormatError(f"{url}: expected a mapping with a 'groups' list")
    members, whole = [], True
    for number, group in enumerate(doc["groups"], 1):
        before = len(set_aside)
        with set_aside_on_error(set_aside, COUNTRY_GROUP_MEMBERS.table, f"group #{number}", url):
            if not isinstance(group, dict) or not _is_text(group.get("id")) or not group["id"]:
                raise ValueError(f"expected a mapping with an 'id' per group, got {group!r:.80}")
            listed = group.get("members") or []
            if not isinstance(listed, list):
                raise TypeError(f"{group['id']}: members: expected a list, got {type(listed).__name__}")
            name = group.get("name") or group["id"]
            source = group.get("source")
            if not _is_text(name) or (source is not None and not _is_text(source)):
                raise TypeError(f"{group['id']}: name and source must be text")
        if len(set_aside) > before:
            whole = False
            continue
        for position, member in enumerate(listed, 1):
            shown = member.get("iso3") if isinstance(member, dict) else None
            before = len(set_aside)
            with set_aside_on_error(set_aside, COUNTRY_GROUP_MEMBERS.table,
                                    record_key(group["id"], shown if shown else f"member #{position}"), url):  # fmt: skip
                if not isinstance(member, dict):
                    raise TypeError(f"{group['id']}: expected a mapping per member, got {member!r:.80}")
                iso3 = str(member.get("iso3", "")).upper()
                if to_iso3(iso3) != iso3:
                    raise ValueError(f"{group['id']}: {iso3!r} is not an ISO3 code")
                members.append((group["id"], iso3, name, _year(member.get("since"), "since"),
                                _year(member.get("until"), "until"), source))  # fmt: skip
            whole = whole and len(set_aside) == before
    return members, whole


def _corrections(doc: object, set_aside: list[SetAside]) -> tuple[list[tuple], bool]:
    """corrections.yaml -> rows; an entry that cannot be read is set aside (and nothing is removed)."""
    if doc is None:
        return [], True
    if not isinstance(doc, list):
        raise SourceFormatError(f"{CORRECTIONS_URL}: expected a list of corrections")
    rows, every_read = [], True
    for position, entry in enumerate(doc):
        key = entry.get("id") if isinstance(entry, dict) else None
        with set_aside_on_error(set_aside, CORRECTIONS.table, key or f"entry {position}", CORRECTIONS_URL):
            if not isinstance(entry, dict):
                raise TypeError(f"expected a mapping per correction, got {type(entry).__name__}")
            if entry.get("correction") not in CORRECTION_KINDS:
                raise ValueError(f"correction {entry.get('correction')!r} is not one of {sorted(CORRECTION_KINDS)}")
            if not str(entry.get("source_url") or "").startswith("http"):
                raise ValueError("a correction needs a public source_url")
            effective = entry["effective"]
            if not isinstance(effective, date):
                raise ValueError(f"effective {effective!r} is not a date (YYYY-MM-DD)")
            rows.append((str(entry["id"]), str(entry["entity_kind"]), str(entry["entity_id"]), entry["correction"], effective,
                         entry["source_url"], " ".join(str(entry.get("note") or "").split()) or None))  # fmt: skip
            continue
        every_read = False
    return rows, every_read


def parse(payloads: Iterable[RawPayload], cursor: dict | None = None) -> ParsedBatch:
    bodies = {p.url: p.body for p in payloads}
    for url in SEED_FILES:
        if url not in bodies:
            raise SourceFormatError(f"run has no {url}")
    set_aside: list[SetAside] = []
    registry = _load_yaml(bodies[REGISTRY_URL], REGISTRY_URL)
    entries, set_aside_entries = check_registry(registry, REGISTRY_URL)
    set_aside += set_aside_entries
    # Groups over every identifiable entry: a child keeps its group while its parent is set aside.
    groups = group_of([e for e in registry if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"]])
    organisations = OrganisationCollector(OrganisationResolver(organisations_of(entries)))
    registry_rows = []
    for e in entries:
        for spelling in (e["name"], *(e.get("aliases") or [])):
            organisations.resolve(str(spelling))
        registry_rows.append((
            e["id"], e["name"], e["jurisdiction"], e["ownership"], e.get("parent"), groups[e["id"]],
            sorted(e.get("sectors") or []), e.get("roles_note"), e.get("sources") or {},
            " ".join(str(e.get("notes") or "").split()) or None,
        ))  # fmt: skip
    doc = _load_yaml(bodies[COUNTRY_GROUPS_URL], COUNTRY_GROUPS_URL)
    members, every_member_read = _country_group_members(doc, COUNTRY_GROUPS_URL, set_aside)
    corrections, every_correction_read = _corrections(_load_yaml(bodies[CORRECTIONS_URL], CORRECTIONS_URL), set_aside)
    # A set-aside member (or an entry without an id) cannot keep its row by itself: remove nothing.
    complete = every_member_read and every_correction_read and all(s.entity_key is not None for s in set_aside_entries)
    return ParsedBatch(
        rows={PRC_ORGANISATIONS.table: registry_rows, **organisations.rows(), COUNTRY_GROUP_MEMBERS.table: members,
              CORRECTIONS.table: corrections},
        entities=len(registry_rows),
        complete=complete,
        # PostgreSQL text cannot hold a NUL byte (YAML can write one as "\0"): the ledger gets \x00.
        set_aside=[dataclasses.replace(s, record_key=s.record_key.replace("\x00", "\\x00")) for s in set_aside],
    )
