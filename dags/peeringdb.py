"""Data centres: PeeringDB facilities and the organisations that operate them.

Daily: the first run reads every organisation and facility (``limit``/``skip`` pages, about 90
requests at 20 per minute anonymous); later runs ask only for what changed ``since`` the cursor,
deletions included (a few requests). An API key, when the Airflow connection ``peeringdb`` has one
in its password field, is sent as ``Authorization: Api-Key``. Then merge into
``core.peeringdb_facilities`` / ``core.peeringdb_organisations`` and check the expectations.
Views: ``analyst.data_centres``; risk contributions ``risk.entities__data_centre``,
``risk.parties__data_centre``. PeeringDB AUP: no commercial use.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("peeringdb", schedule="40 2 * * *", tags=["data_centres"], doc_md=__doc__)
