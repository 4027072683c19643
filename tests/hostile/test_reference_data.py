"""Hostile reference seeds: the real registry and country groups, then a copy damaged one way.

reference_data reads its seeds from the checkout (``repo://`` URLs), not through the replay
directory; here its fetch is pointed at copies of the seed files in the replay directory, so each
case goes through the real pipeline (raw, parse, validation, merge) like the other sources'.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dsrwatch.sources import reference_data as rd

from helpers.db import query, scalar
from helpers.hostile import FAILED, LOADED, SET_ASIDE, Case
from helpers.reference_seeds import SEEDS, fetch_from_replay, write_seeds

pytestmark = pytest.mark.integration

REGISTRY, GROUPS = SEEDS[rd.REGISTRY_URL], SEEDS[rd.COUNTRY_GROUPS_URL]
HOSTILE_TEXT = "<script>alert(1)</script>'; DROP TABLE core.prc_organisations; -- {{ 7*7 }}"


def write(relative: Path, text: str) -> callable:
    return lambda root: (root / relative).write_text(text)


def edit(relative: Path, change) -> callable:
    """``change(document)`` edits the parsed seed file in place; it is written back as YAML."""

    def corrupt(root: Path) -> None:
        doc = yaml.safe_load((root / relative).read_text())
        change(doc)
        (root / relative).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))

    return corrupt


def entry(oid: str, **fields) -> callable:
    def change(entries: list) -> None:
        next(e for e in entries if e["id"] == oid).update(fields)

    return edit(REGISTRY, change)


def member(group: str, iso3: str, **fields) -> callable:
    def change(doc: dict) -> None:
        listed = next(g for g in doc["groups"] if g["id"] == group)["members"]
        found = next((m for m in listed if m["iso3"] == iso3), None)
        if found is None:
            listed.append({"iso3": iso3, **fields})
        else:
            found.update(fields)

    return edit(GROUPS, change)


def duplicate_with(oid: str, **fields) -> callable:
    return edit(REGISTRY, lambda entries: entries.append({**next(e for e in entries if e["id"] == oid), **fields}))


CASES = [
    # the seeds as a whole are unusable: the run fails, naming the file
    Case("registry not YAML", write(REGISTRY, "- id: huawei\n  name: [unclosed\n"), FAILED,
         r"repo://dsrwatch/reference/prc_organisations\.yaml: not valid YAML"),
    Case("registry is a mapping", write(REGISTRY, "organisations: []\n"), FAILED,
         r"prc_organisations\.yaml: expected a list of organisations"),
    Case("one spelling names two organisations", entry("zte", aliases=["ZTE Corporation", "Huawei"]), FAILED,
         r"alias 'Huawei' of zte also names huawei-technologies; a spelling must name one organisation"),
    Case("parent chain loops", entry("huawei-technologies", parent="huawei-cloud"), FAILED,
         r"prc_organisations\.yaml: parent chain of huawei-\w+ loops through huawei-\w+"),
    Case("country groups not a mapping", write(GROUPS, "- EU\n- NATO\n"), FAILED,
         r"country_groups\.yaml: expected a mapping with a 'groups' list"),
    # one bad entry or member: set aside, it keeps its previous version, the rest loads
    Case("jurisdiction 'Mars'", entry("huawei-technologies", jurisdiction="Mars"), SET_ASIDE,
         r"jurisdiction 'Mars' not in \['Hong Kong', 'Macau', 'PRC'\]", record_key="huawei-technologies"),
    Case("parent not in the registry", entry("huawei-cloud", parent="nobody"), SET_ASIDE,
         r"parent 'nobody' is not in the registry", record_key="huawei-cloud"),
    Case("sectors is a string", entry("zte", sectors="equipment"), SET_ASIDE,
         r"sectors: expected a list of names, got 'equipment'", record_key="zte"),
    Case("entry is a string", edit(REGISTRY, lambda entries: entries.append("Huawei Technologies")), SET_ASIDE,
         r"expected a mapping per organisation, got str", record_key="entry #62"),
    Case("id listed twice with different values", duplicate_with("zte", roles_note="A second opinion."), SET_ASIDE,
         r"the source lists this key twice with different values", record_key="zte"),
    Case("member 'XXX'", member("EU", "XXX", since=2030), SET_ASIDE, r"EU: 'XXX' is not an ISO3 code",
         record_key="EU|XXX"),
    Case("member since 'nineteen'", member("EU", "BEL", since="nineteen fifty-eight"), SET_ASIDE,
         r"since: 'nineteen fifty-eight' is not a year", record_key="EU|BEL"),
    Case("member since 3021", member("EU", "BEL", since=3021), SET_ASIDE, r"outside 1900\.\.2100",
         record_key="EU|BEL", field="since_year"),
    Case("NUL byte in notes", entry("zte", notes="Shenzhen\x00"), SET_ASIDE, r"contains a NUL byte",
         record_key="zte", field="notes"),
    Case("notes carrying HTML, SQL and Jinja", entry("zte", notes=HOSTILE_TEXT), LOADED, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_reference_seed(case, hostile, warehouse, monkeypatch):
    monkeypatch.setattr(rd, "fetch", fetch_from_replay)
    changed = ("prc_organisations", "entity_changes") if case.outcome == LOADED else ()
    hostile("reference_data", write_seeds, case, changed_tables=changed)
    if case.outcome == LOADED:
        assert scalar(warehouse, "SELECT notes FROM core.prc_organisations WHERE organisation_id = 'zte'") == HOSTILE_TEXT
    if case.id == "jurisdiction 'Mars'":
        # set aside, Huawei keeps its row; its subsidiary still belongs to its group
        assert query(warehouse, """SELECT organisation_id, jurisdiction, group_id, removed_at FROM core.prc_organisations
                                    WHERE organisation_id LIKE 'huawei%' ORDER BY 1""") == [
            ("huawei-cloud", "PRC", "huawei-technologies", None),
            ("huawei-technologies", "PRC", "huawei-technologies", None)]  # fmt: skip
    if case.record_key in ("EU|BEL", "EU|XXX"):
        assert query(warehouse, "SELECT since_year, removed_at FROM core.country_group_members "
                                "WHERE group_id = 'EU' AND iso3 = 'BEL'") == [(1958, None)]  # fmt: skip
