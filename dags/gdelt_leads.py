"""News leads on smart-city, safe-city and surveillance deals with PRC vendors (GDELT DOC 2.0).

Weekly: a few queries over each week since the last run (at most one request every 5 s, backing
off on 429 and on GDELT's plain-text rate-limit notice), leads merged into ``core.news_leads``
and linked to known deals where country, vendor and component match. Leads are never deals.
Views: ``analyst.news_leads``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("gdelt_leads", schedule="0 5 * * 1", tags=["leads"], doc_md=__doc__)
