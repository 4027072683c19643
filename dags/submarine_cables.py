"""Submarine cables from the TeleGeography Submarine Cable Map (API v3).

Weekly: fetch every cable file into ``raw``, merge into ``core`` (one transaction), then check
the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.submarine_cables``, ``analyst.landing_points``, ``analyst.organisations``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="0 3 * * 1",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "cables"],
    doc_md=__doc__,
)
def submarine_cables():
    ingest_tasks("submarine_cables")


submarine_cables()
