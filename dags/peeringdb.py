"""Data centres: PeeringDB facilities and the organisations that operate them.

Daily: the first run reads every organisation and facility (``limit``/``skip`` pages, about 90
requests at 20 per minute anonymous); later runs ask only for what changed ``since`` the cursor,
deletions included (a few requests). An API key, when the Airflow connection ``peeringdb`` has one
in its password field, is sent as ``Authorization: Api-Key``. Then merge into
``core.peeringdb_facilities`` / ``core.peeringdb_organisations`` and check the expectations.
Views: ``analyst.data_centres``; risk contributions ``risk.entities__data_centre``,
``risk.parties__data_centre``. PeeringDB AUP: no commercial use.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, INGEST_TAGS, START_DATE, ingest_tasks


@dag(
    schedule="40 2 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*INGEST_TAGS, "data_centres"],
    doc_md=__doc__,
)
def peeringdb():
    ingest_tasks("peeringdb")


peeringdb()
