"""Cloud regions from the TeleGeography Cloud Infrastructure Map.

Weekly: fetch ``cloud-regions.js`` (one JSON file, conditional GET) into ``raw``, merge into
``core.cloud_regions`` (one transaction), then check the source's expectations. The load task's
Asset schedules ``risk_flags``.
Views: ``analyst.cloud_regions``; risk contributions ``risk.entities__cloud_region``,
``risk.parties__cloud_region``.
"""

from dsrwatch.orchestration import ingest_dag

# An Airflow DAG: fetch -> load (expectations gate the commit; Asset outlet).
dag = ingest_dag("cloud_regions", schedule="20 3 * * 1", tags=["cloud"], doc_md=__doc__)
