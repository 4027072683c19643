"""The one place the package asks Airflow for something at run time (as provider hooks do):
connections by id. Airflow is imported inside the functions, so importing this module is cheap."""

from __future__ import annotations


def connection(conn_id: str):
    """The Airflow connection ``conn_id`` (UI, secrets backend or AIRFLOW_CONN_<ID>), or None when
    it is not defined. Any other lookup failure propagates: a task should retry rather than act
    as if a configured connection did not exist."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
