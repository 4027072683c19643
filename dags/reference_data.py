"""Reference seeds from the repository: PRC-linked organisations and country groups.

Daily and cheap: an unchanged seed is recognised by its digest and nothing is written. A registry
edit updates ``core.prc_organisations`` with history, and its Asset re-runs ``risk_flags``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, START_DATE, ingest_tasks


@dag(
    schedule="0 1 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dsrwatch", "reference"],
    doc_md=__doc__,
)
def reference_data():
    ingest_tasks("reference_data")


reference_data()
