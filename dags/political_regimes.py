"""Political regimes per country and year: V-Dem Regimes of the World via Our World in Data.

Weekly (OWID updates the data once a year; an unchanged file loads nothing): fetch the grapher
CSV into ``raw``, merge into ``core.country_regimes`` (one transaction), then check the source's
expectations. Reference data (tag ``reference``): ``make run`` runs it before the ingest DAGs.
The load task updates the Asset ``dsrwatch.core.political_regimes`` for the risk DAG, whose
AUTHORITARIAN_HOST and DEMOCRACY_EXPOSURE patterns read the regimes.
Views: ``analyst.country_regimes``, ``analyst.latest_country_regimes``.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, START_DATE, ingest_tasks


@dag(
    schedule="0 2 * * 1",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dsrwatch", "reference", "countries"],
    doc_md=__doc__,
)
def political_regimes():
    ingest_tasks("political_regimes")


political_regimes()
