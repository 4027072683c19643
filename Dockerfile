# DSR Watch Airflow image: the official Airflow image plus the project's
# pinned dependencies and code. Built by docker-compose.yaml as
# dsrwatch-airflow:3.3.2.
#
# The tag must match the apache-airflow pin in requirements.lock (checked by
# tests/integrity/test_docker_compose.py). The -python3.11 variant is used
# because requirements.lock is compiled for Python 3.11 (`uv pip compile -p 3.11`);
# the bare tag apache/airflow:3.3.2 ships a different default Python.
FROM apache/airflow:3.3.2-python3.11

# The official image refuses `pip install` as root: install as the airflow user
# (into its ~/.local, which is on PATH and sys.path in this image).
USER airflow

# Dependencies first, so editing code does not invalidate this layer.
# The lock pins apache-airflow==3.3.2 itself, so pip keeps the image's Airflow.
COPY --chown=airflow:root requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir -r /opt/airflow/requirements.lock

# Project code in the AIRFLOW_HOME (/opt/airflow) layout. docker-compose.yaml
# bind-mounts the same directories over these for local development.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root sql/ /opt/airflow/sql/
