"""News leads on smart-city, safe-city and surveillance deals with PRC vendors (GDELT DOC 2.0).

Weekly: a few queries over each week since the last run (at most one request every 5 s, backing
off on 429 and on GDELT's plain-text rate-limit notice), leads merged into ``core.news_leads``
and linked to known deals where country, vendor and component match. Leads are never deals.
Views: ``analyst.news_leads``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="0 5 * * 1",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "leads"],
    doc_md=__doc__,
)
def gdelt_leads():
    ingest_tasks("gdelt_leads")


gdelt_leads()
