"""Smart-city, safe-city and other digital-infrastructure deals from AidData's Global Chinese
Development Finance Dataset (GCDF 3.0, ODC-By 1.0).

Monthly: fetch the release zip (a conditional GET, so an unchanged release costs one request),
stream the workbook into ``core.deals`` with parties and components (one transaction), then
check the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.deals``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="0 4 1 * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "deals"],
    doc_md=__doc__,
)
def aiddata():
    ingest_tasks("aiddata")


aiddata()
