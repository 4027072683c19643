"""World Bank Major Contract Awards with PRC suppliers (Socrata kdui-wcs3, CC BY 4.0).

Weekly: page through contracts signed since the cursor (minus a two-year overlap, for late
publication) into ``raw``, merge the digital ones into ``core.deals`` (incremental: nothing is
removed), then check the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.deals``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="30 3 * * 1",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "deals"],
    doc_md=__doc__,
)
def worldbank_contracts():
    ingest_tasks("worldbank_contracts")


worldbank_contracts()
