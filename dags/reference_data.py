"""Reference seeds from the repository: PRC-linked organisations and country groups.

Daily and cheap: an unchanged seed is recognised by its digest and nothing is written. A registry
edit updates ``core.prc_organisations`` with history, and its Asset re-runs ``risk_flags``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("reference_data", schedule="0 1 * * *", tags=[], doc_md=__doc__, stage="reference")
