"""World Bank Major Contract Awards with PRC suppliers (Socrata kdui-wcs3, CC BY 4.0).

Weekly: page through contracts signed since the cursor (minus a two-year overlap, for late
publication) into ``raw``, merge the digital ones into ``core.deals`` (incremental: nothing is
removed), then check the source's expectations. The load task's Asset schedules ``risk_flags``.
Views: ``analyst.deals``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("worldbank_contracts", schedule="30 3 * * 1", tags=["deals"], doc_md=__doc__)
