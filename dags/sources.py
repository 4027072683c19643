"""One Airflow DAG per source declared in plugins/dsrwatch/sources/ (a module defining ``SOURCE``):
fetch -> load on the source's schedule, the load's Asset scheduling ``risk_flags``. Everything a
DAG says - id, schedule, tags, docs - comes from that declaration, so a new source needs no file
here (see README "A new source in four steps"). (The word Airflow in this docstring is what lets the
DAG processor's safe mode parse a file that builds its DAGs in a function.)"""

from dsrwatch.orchestration import ingest_dags

globals().update(ingest_dags())
