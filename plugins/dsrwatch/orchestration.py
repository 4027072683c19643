"""Airflow glue shared by the DAG files: default arguments, Assets and the ingest task group.

Only DAG files import this module. It imports nothing heavy at module level: the pipeline,
psycopg, pandas and friends are imported inside the task bodies, at run time.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, get_current_context, task

from dsrwatch import config

START_DATE = datetime(2026, 1, 5, tzinfo=UTC)

def _notify_engineers(context) -> None:
    from dsrwatch.notifications import notify_engineers

    notify_engineers(context)


DEFAULT_ARGS = {
    "owner": "dsrwatch",
    # DSR_TASK_RETRIES=0 for one-shot runs (make run, tests), where waiting for a retry helps nobody.
    "retries": config.task_retries(),
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
    # The data engineers hear of a task that failed for good (DSR_OPS_TO; printed without SMTP).
    "on_failure_callback": _notify_engineers,
}

def source_asset(source_name: str) -> Asset:
    """The Asset a source's load task updates; the risk DAG is scheduled on these."""
    return Asset(name=f"dsrwatch.core.{source_name}", uri=f"x-dsrwatch://warehouse/core/{source_name}")


RISK_FLAGS_ASSET = Asset(name="dsrwatch.risk.flags", uri="x-dsrwatch://warehouse/risk/flags")


def any_source_updated():
    """Schedule that fires when any source's load task updates its Asset (file names only)."""
    from airflow.sdk import AssetAny

    from dsrwatch.sources import source_names

    return AssetAny(*(source_asset(name) for name in source_names()))


def evaluate_risk_task():
    """The risk engine as one task; its Asset schedules the weekly alert's bookkeeping."""

    @task(task_id="evaluate_patterns", outlets=[RISK_FLAGS_ASSET])
    def evaluate_patterns() -> dict:
        from dataclasses import asdict

        from dsrwatch.risk.engine import evaluate

        return asdict(evaluate(airflow_run_id=get_current_context()["run_id"]))

    return evaluate_patterns()


def _fail_fast_on_fatal(exc: Exception) -> None:
    """Fatal errors (schema drift, 4xx, missing replay file) should not burn retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from dsrwatch.fetching import FetchError
    from dsrwatch.pipeline import ExpectationFailed, LoadFailed

    retryable = getattr(exc, "retryable", None)
    if isinstance(exc, FetchError) and not retryable:
        raise AirflowFailException(str(exc)) from exc
    if isinstance(exc, LoadFailed | ExpectationFailed):
        raise AirflowFailException(str(exc)) from exc


_stop_requested: str | None = None


def stop_requested() -> str | None:
    """The signal (SIGTERM) that interrupted a task in this process, if any: ``make run`` stops then."""
    return _stop_requested


@contextlib.contextmanager
def stoppable():
    """Inside a task, SIGTERM interrupts the work (Airflow's own handler only calls ``on_kill``,
    which a task function does not have, so a run waiting on a lock or a server would go on): the
    run records how it ended and the task fails at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        global _stop_requested
        _stop_requested = signal.Signals(signum).name
        raise KeyboardInterrupt(_stop_requested)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ingest_dag(spec, description: str = ""):
    """The DAG of one source, all from its declaration (``SourceSpec``): dag_id, schedule, tags,
    docs (``description``: the source module's docstring), and the standard fetch -> load tasks
    with the source's Asset on load."""
    from airflow.sdk import DAG, Param

    doc = f"""{spec.title}

{description.strip()}

Homepage {spec.homepage}; licence {spec.licence}; schedule `{spec.schedule}` (UTC); views
{", ".join(f"`{v}`" for v in spec.views) or "none"}. Fetch -> load; the load commits only when the
source's expectations and change guard hold (a breaking run is quarantined) and updates the Asset
`{source_asset(spec.name).uri}`, which schedules `risk_flags`."""
    with DAG(
        dag_id=spec.name,
        schedule=spec.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["dsrwatch", spec.stage, *([] if spec.stage == "reference" else [spec.category])],
        doc_md=doc,
        params={"accept_run_id": Param(None, type=["null", "integer"], title="Accept a quarantined run",
                                       description="Load this quarantined run of the source despite its broken "
                                                   "expectations or change guard, instead of fetching.")},
    ) as source_dag:
        ingest_tasks(spec.name)
    return source_dag


def ingest_dags() -> dict[str, object]:
    """{dag_id: DAG} for every declared source (``dsrwatch.sources``)."""
    from dsrwatch.sources import get_source, source_names

    return {name: ingest_dag(get_source(name).SOURCE, get_source(name).__doc__ or "") for name in source_names()}


def ingest_tasks(source_name: str) -> None:
    """fetch -> load (expectations gate the commit; Asset outlet), inside the current DAG.

    Trigger with ``{"accept_run_id": N}`` to load quarantined run N despite its breaches (an
    operator's decision that the change is real) instead of fetching."""

    @task(task_id="fetch")
    def fetch(params: dict | None = None) -> int:
        from dsrwatch.pipeline import fetch_to_raw

        if (params or {}).get("accept_run_id"):
            return int(params["accept_run_id"])
        try:
            with stoppable():
                return fetch_to_raw(source_name, airflow_run_id=get_current_context()["run_id"])
        except Exception as exc:
            _fail_fast_on_fatal(exc)
            raise

    @task(task_id="load", outlets=[source_asset(source_name)])
    def load(source_run_id: int, params: dict | None = None) -> dict:
        from dataclasses import asdict

        from dsrwatch.pipeline import load_from_raw

        accept = bool((params or {}).get("accept_run_id"))
        try:
            with stoppable():
                return asdict(load_from_raw(source_run_id, accept=accept))
        except Exception as exc:
            _fail_fast_on_fatal(exc)
            raise

    load(fetch())


def weekly_alert_task():
    """The weekly digest as one task, ``send_digest``; retries (with backoff) from DEFAULT_ARGS."""

    @task(task_id="send_digest")
    def send_digest() -> list[dict]:
        from dsrwatch.alerts.delivery import run_weekly_alert

        return run_weekly_alert(get_current_context())

    return send_digest()


# --- one-shot runs (python -m dsrwatch run) ------------------------------------------------------
STAGE_ORDER = ("reference", "ingest", "risk", "alert")  # tags that order the DAGs in a one-shot run


def ensure_metadata_db() -> None:
    """Create or upgrade Airflow's metadata DB (needed by dag.test())."""
    from airflow.utils import db

    db.upgradedb()


def _stage(dag) -> int:
    tags = set(dag.tags or ())
    return next((position for position, tag in enumerate(STAGE_ORDER) if tag in tags), len(STAGE_ORDER))


def dags_in_order(dag_folder: str, dag_ids: list[str] | None = None) -> list:
    """The project's DAGs (optionally only ``dag_ids``) in dependency order: reference -> ingest -> risk -> alert."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dag_folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dags = [d for d in bag.dags.values() if not dag_ids or d.dag_id in dag_ids]
    return sorted(dags, key=lambda d: (_stage(d), d.dag_id))
