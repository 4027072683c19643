"""Submarine cables from the TeleGeography Submarine Cable Map (API v3).

Weekly: fetch every cable file into ``raw``, merge into ``core`` (one transaction), then check
the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.submarine_cables``, ``analyst.landing_points``, ``analyst.organisations``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("submarine_cables", schedule="0 3 * * 1", tags=["cables"], doc_md=__doc__)
