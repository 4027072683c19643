"""Smart-city, safe-city and other digital-infrastructure deals from AidData's Global Chinese
Development Finance Dataset (GCDF 3.0, ODC-By 1.0).

Monthly: fetch the release zip (a conditional GET, so an unchanged release costs one request),
stream the workbook into ``core.deals`` with parties and components (one transaction), then
check the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.deals``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("aiddata", schedule="0 4 1 * *", tags=["deals"], doc_md=__doc__)
