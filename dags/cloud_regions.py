"""Cloud regions from the TeleGeography Cloud Infrastructure Map.

Weekly: fetch ``cloud-regions.js`` (one JSON file, conditional GET) into ``raw``, merge into
``core.cloud_regions`` (one transaction), then check the source's expectations. The load task's
Asset schedules ``risk_flags``.
Views: ``analyst.cloud_regions``; risk contributions ``risk.entities__cloud_region``,
``risk.parties__cloud_region``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="20 3 * * 1",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "cloud"],
    doc_md=__doc__,
)
def cloud_regions():
    ingest_tasks("cloud_regions")


cloud_regions()
