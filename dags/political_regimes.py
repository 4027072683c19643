"""Political regimes per country and year: V-Dem Regimes of the World via Our World in Data.

Weekly (OWID updates the data once a year; an unchanged file loads nothing): fetch the grapher
CSV into ``raw``, merge into ``core.country_regimes`` (one transaction), then check the source's
expectations. Reference data (tag ``reference``): ``make run`` runs it before the ingest DAGs.
The load task updates the Asset ``dsrwatch.core.political_regimes`` for the risk DAG, whose
AUTHORITARIAN_HOST and DEMOCRACY_EXPOSURE patterns read the regimes.
Views: ``analyst.country_regimes``, ``analyst.latest_country_regimes``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("political_regimes", schedule="0 2 * * 1", tags=["countries"], doc_md=__doc__, stage="reference")
