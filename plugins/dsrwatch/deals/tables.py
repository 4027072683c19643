"""The deal tables, declared once for every deal source: ``source`` is each table's scope column,
so a source's run marks only its own rows removed and its expectations count only its own rows."""

from __future__ import annotations

from dsrwatch.sources.base import ORGANISATION_ALIASES, ORGANISATIONS
from dsrwatch.validation import NotAfterFetch, Range
from dsrwatch.warehouse.tables import EntityTable

DEALS = EntityTable(
    "core.deals",
    key=("source", "deal_id"),
    columns=("release", "title", "description", "status", "recipient", "recipient_iso3", "commitment_year",
             "signing_date", "sector_name", "flow_type", "amount_usd", "amount_basis", "project_id", "source_urls",
             "mentioned_organisations", "relevance"),
    scope_column="source",
    # The People's Republic dates from 1949; amounts are what a deal is worth (no single project
    # comes near a trillion dollars); a deal cannot have been signed after it was fetched.
    rules=(Range("commitment_year", 1949, 2100), Range("amount_usd", 0, 10**12), NotAfterFetch("signing_date")),
)  # fmt: skip
DEAL_PARTIES = EntityTable(
    "core.deal_parties",
    key=("source", "deal_id", "role", "organisation_id"),
    columns=("source_name", "party_type"),
    scope_column="source",
    entity_columns=("source", "deal_id"),
)
DEAL_COMPONENTS = EntityTable(
    "core.deal_components", key=("source", "deal_id", "tag"), columns=("matched_words", "matched_in"),
    scope_column="source", entity_columns=("source", "deal_id"),
)  # fmt: skip
# Created by migration 0003 (cloud and data centres); deal sources own their rows through `source`.
GOVERNMENT_HOSTING = EntityTable(
    "core.government_hosting",
    key=("source", "entity_kind", "entity_id", "government_body"),
    columns=("body_type", "country_iso3", "evidence_url", "note"),
    scope_column="source",
)
# What a deal source's SourceSpec loads (its `tables`), main table first.
DEAL_TABLES = (DEALS, ORGANISATIONS, ORGANISATION_ALIASES, DEAL_PARTIES, DEAL_COMPONENTS, GOVERNMENT_HOSTING)
