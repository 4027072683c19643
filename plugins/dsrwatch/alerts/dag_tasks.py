"""The weekly alert as an Airflow task, for dags/weekly_alert.py.

Only airflow.sdk is imported here at module level: the digest, psycopg, Jinja2 and matplotlib
load inside the task, at run time.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task


def run_weekly_alert(context) -> list[dict]:
    """The task body: the run's data interval (the week that just ended), or - when the run's conf
    says ``{"since_last_digest": true}``, as ``make run`` does - everything since each list's last
    digest. Prints one line per recipient list; raises if any list failed (Airflow retries)."""
    from dsrwatch.alerts.delivery import DigestDeliveryError, send_digest_since_last, send_weekly_digest

    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    run_id = context.get("run_id")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    try:
        if conf.get("since_last_digest") or start is None or end is None:
            results = send_digest_since_last(airflow_run_id=run_id)
        else:
            results = send_weekly_digest(start, end, airflow_run_id=run_id)
    except DigestDeliveryError as exc:
        for result in exc.results:
            print(result.line())
        raise
    for result in results:
        print(result.line())
    return [result.as_dict() for result in results]


def weekly_alert_task():
    """One task, ``send_digest``; retries (with backoff) come from the DAG's default_args."""

    @task(task_id="send_digest")
    def send_digest() -> list[dict]:
        return run_weekly_alert(get_current_context())

    return send_digest()
