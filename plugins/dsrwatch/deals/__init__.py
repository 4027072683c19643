"""The deals domain: what every deal source (AidData, World Bank contracts) and the news leads
(GDELT) share, so no source module imports another.

* ``tables``    - the deal tables (``DEAL_TABLES``: core.deals, parties, components, government
  hosting, and the shared organisation tables), each scoped to its source;
* ``collector`` - the deal model (``Deal``, ``PartyRef``) and ``DealCollector``, which resolves
  parties, adds the buyers' tags to the components and derives government hosting;
* ``parties``   - PRC-linked organisations named in a text (``mentioned_organisations``), the
  registry's technology vendors (``vendor_ids``, ``digital_vendor_ids``) and the government-body
  classifier (``government_body_type``).

The component taxonomy is ``dsrwatch.normalise.components``; value readers (numbers, amounts,
dates) are ``dsrwatch.normalise.values``. Which known deal a news lead most likely reports is
decided in SQL, by the view ``analyst.news_leads`` (sql/views/040_deals.sql), from the deals in the
warehouse: parsers stay pure functions of their payloads.

Like the source modules, this package imports no database driver (DAG files read it at parse time).
"""

from __future__ import annotations

from dsrwatch.deals.collector import HOSTING_TAGS, NOT_HOSTING, Deal, DealCollector, PartyRef, entity_id
from dsrwatch.deals.parties import (
    BODY_TYPES,
    EQUIPMENT_SECTORS,
    SERVICE_SECTORS,
    digital_vendor_ids,
    government_body_type,
    mentioned_organisations,
    registry_mentions,
    vendor_ids,
)
from dsrwatch.deals.tables import DEAL_COMPONENTS, DEAL_PARTIES, DEAL_TABLES, DEALS, GOVERNMENT_HOSTING

__all__ = [
    "BODY_TYPES", "DEALS", "DEAL_COMPONENTS", "DEAL_PARTIES", "DEAL_TABLES", "EQUIPMENT_SECTORS", "GOVERNMENT_HOSTING",
    "HOSTING_TAGS", "NOT_HOSTING", "SERVICE_SECTORS", "Deal", "DealCollector", "PartyRef", "digital_vendor_ids",
    "entity_id", "government_body_type", "mentioned_organisations", "registry_mentions", "vendor_ids",
]  # fmt: skip
