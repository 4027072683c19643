"""The deal model every deal source fills, and the collector that turns deals into table rows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from dsrwatch.deals.parties import government_body_type
from dsrwatch.deals.tables import DEAL_COMPONENTS, DEAL_PARTIES, DEALS, GOVERNMENT_HOSTING
from dsrwatch.normalise.components import TagMatch, Taxonomy, default_taxonomy
from dsrwatch.sources.base import OrganisationCollector

# Components that make a deal one that builds or runs government data hosting, and the words of
# a title or flow type that make it training or teaching about them instead (AidData lists many
# ICT courses, scholarships and university laboratories that mention cloud computing).
HOSTING_TAGS = ("data_centre", "cloud", "e_government")
NOT_HOSTING = re.compile(r"\b(training|trainees?|scholarships?|students?|laborator(y|ies)|classrooms?|schools?|"
                         r"universit(y|ies)|courses?|seeds for the future|technical assistance)\b", re.I)


def entity_id(source: str, deal_id: str) -> str:
    """The deal's id in risk.entities and core.government_hosting: ``<source>:<deal_id>``."""
    return f"{source}:{deal_id}"


@dataclass
class Deal:
    deal_id: str
    title: str
    release: str | None = None
    description: str | None = None
    status: str | None = None
    recipient: str | None = None
    recipient_iso3: str | None = None
    commitment_year: int | None = None
    signing_date: date | None = None
    sector_name: str | None = None
    flow_type: str | None = None
    amount_usd: float | None = None
    amount_basis: str | None = None
    project_id: str | None = None
    source_urls: list[str] = field(default_factory=list)
    mentioned_organisations: list[str] = field(default_factory=list)
    relevance: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PartyRef:
    """A party as the source names it. ``government`` marks a buyer that is a government body;
    ``specific`` is False for the generic "Government of <country>" derived from the recipient."""

    role: str
    name: str
    party_type: str | None = None
    government: bool = False
    specific: bool = True


class DealCollector:
    """Gathers the rows of every deal table for one source run."""

    def __init__(self, source: str, organisations: OrganisationCollector, taxonomy: Taxonomy | None = None):
        self.source = source
        self.organisations = organisations
        self.taxonomy = taxonomy or default_taxonomy()
        self.deals: dict[str, tuple] = {}
        self.parties: dict[tuple, tuple] = {}
        self.components: list[tuple] = []
        self.hosting: dict[tuple, tuple] = {}
        self.duplicates: list[str] = []

    def add(self, deal: Deal, parties: Iterable[PartyRef], components: Mapping[str, TagMatch]) -> None:
        if deal.deal_id in self.deals:
            self.duplicates.append(deal.deal_id)
            return
        parties = list(parties)
        self.deals[deal.deal_id] = (
            self.source, deal.deal_id, deal.release, deal.title, deal.description, deal.status, deal.recipient,
            deal.recipient_iso3, deal.commitment_year, deal.signing_date, deal.sector_name, deal.flow_type,
            deal.amount_usd, deal.amount_basis, deal.project_id, deal.source_urls,
            deal.mentioned_organisations, deal.relevance,
        )  # fmt: skip
        for party in parties:
            res = self.organisations.resolve(party.name)
            key = (self.source, deal.deal_id, party.role, res.organisation_id)
            if key in self.parties:  # two spellings (or two mentions) of one organisation in one role
                old = self.parties[key]
                names = old[4] if party.name in old[4].split("; ") else f"{old[4]}; {party.name}"
                self.parties[key] = (*key, names, old[5] or party.party_type)
            else:
                self.parties[key] = (*key, party.name, party.party_type)
        components = self._with_buyer_tags(components, parties)
        for tag, match in components.items():
            self.components.append((self.source, deal.deal_id, tag, list(match.words),
                                    list(match.fields)))  # fmt: skip
        self._add_hosting(deal, parties, components)

    def _with_buyer_tags(self, components: Mapping[str, TagMatch], parties: list[PartyRef]) -> dict[str, TagMatch]:
        """Buyer names classified with the party-name tags (e.g. police_security for a Ministry of
        Interior), merged into the text's components with the field "buyer"."""
        merged = dict(components)
        party_tags = self.taxonomy.party_name_tags
        for party in parties:
            if party.role != "buyer":
                continue
            for tag, words in self.taxonomy.classify(party.name, party_tags).items():
                old = merged.get(tag, TagMatch((), ()))
                merged[tag] = TagMatch(old.words + tuple(w for w in words if w not in old.words),
                                       old.fields + (() if "buyer" in old.fields else ("buyer",)))  # fmt: skip
        return {tag: merged[tag] for tag in self.taxonomy.tags if tag in merged}

    def _add_hosting(self, deal: Deal, parties: list[PartyRef], components: Mapping[str, TagMatch]) -> None:
        """A deal that builds or runs a government data centre, cloud or e-government platform (not
        training about them): one core.government_hosting row per government buyer (the specific
        agencies if the source names any, else the recipient government)."""
        hosting = [tag for tag in HOSTING_TAGS if tag in components]
        if not hosting or NOT_HOSTING.search(f"{deal.title} | {deal.flow_type or ''}"):
            return
        governments = [p for p in parties if p.role == "buyer" and p.government]
        specific = [p for p in governments if p.specific]
        what = "; ".join(f"{tag}: {', '.join(components[tag].words)}" for tag in hosting)
        for body in specific or governments:
            key = (self.source, "deal", entity_id(self.source, deal.deal_id), body.name)
            note = f"{what} ({self.source} {deal.deal_id}: {deal.title})"
            evidence = deal.source_urls[0] if deal.source_urls else None
            self.hosting[key] = (*key, government_body_type(body.name), deal.recipient_iso3, evidence, note)

    def rows(self) -> dict[str, list[tuple]]:
        return {
            DEALS.table: list(self.deals.values()),
            **self.organisations.rows(),
            DEAL_PARTIES.table: list(self.parties.values()),
            DEAL_COMPONENTS.table: self.components,
            GOVERNMENT_HOSTING.table: list(self.hosting.values()),
        }
