"""Command line: ``python -m dsrwatch run | migrate | status``.

``run`` executes every DAG once, in dependency order (reference -> ingest -> risk -> alert,
read from each DAG's tags), in this process with ``dag.test()``, against the warehouse, then
prints a summary per source. Airflow's own metadata lives in ``.airflow/`` (SQLite) unless
AIRFLOW_HOME or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN say otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from dsrwatch import config


def airflow_environment() -> None:
    """Point Airflow at the project's DAGs and a private metadata DB, unless already configured."""
    home = config.PROJECT_ROOT / ".airflow"
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "DSR_TASK_RETRIES": "0",
        # Task logs at WARNING keep the per-DAG lines and the summary readable; INFO shows all.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": config.log_level("WARNING"),
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")
    os.makedirs(os.environ["AIRFLOW_HOME"], exist_ok=True)


def command_run(args: argparse.Namespace) -> int:
    airflow_environment()
    from dsrwatch.pipeline import summaries
    from dsrwatch.warehouse import describe_location, ensure_schema

    ensure_schema()
    started_at = _warehouse_now()
    print(f"warehouse: {describe_location()}")
    from dsrwatch.orchestration import dags_in_order, ensure_metadata_db, stop_requested

    ensure_metadata_db()
    failed, airflow_run_ids = [], []
    with _StopRequests() as stop:
        for dag in dags_in_order(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], args.dags):
            started = time.perf_counter()
            print(f"== {dag.dag_id}: running", flush=True)
            # The digest in a one-shot run covers everything new since the last digest sent.
            run_conf = {"since_last_digest": True} if "alert" in (dag.tags or ()) else None
            dag_run = dag.test(run_conf=run_conf)
            airflow_run_ids.append(getattr(dag_run, "run_id", None))
            state = str(getattr(dag_run, "state", "unknown"))
            print(f"== {dag.dag_id}: {state} in {time.perf_counter() - started:.1f}s", flush=True)
            if "success" not in state:
                failed.append(dag.dag_id)
            stop.requested = stop.requested or stop_requested()  # a task may have taken the signal
            if stop.requested:  # no later DAG runs on half a world
                print(f"\nstopped by {stop.requested} after {dag.dag_id}; the remaining DAGs did not run", flush=True)
                break
    print("\nSummary per source (this run's own runs)")
    for summary in summaries(airflow_run_ids=[r for r in airflow_run_ids if r]):
        print("  " + summary.line())
    for line in _digest_lines(started_at):
        print(line)
    if stop.requested:
        return 130
    if failed:
        print(f"\nFAILED DAGs: {', '.join(failed)} (see the log above and `make status`)")
        return 1
    return 0


class _StopRequests:
    """Ctrl-C (SIGINT) and SIGTERM interrupt the DAG that is running and stop the ones after it."""

    def __init__(self):
        self.requested: str | None = None
        self._previous = {}

    def __enter__(self):
        import signal

        def interrupt(signum, frame):
            self.requested = signal.Signals(signum).name
            raise KeyboardInterrupt(self.requested)

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, interrupt)
        return self

    def __exit__(self, *exc_info):
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _warehouse_now():
    from dsrwatch.warehouse import connect

    with connect() as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def _digest_lines(since) -> list[str]:
    """What the alert DAG did in this run: sent, written to the outbox, or skipped and why."""
    from dsrwatch.warehouse import connect

    with connect() as conn:
        if conn.execute("SELECT to_regclass('ops.alert_digests')").fetchone()[0] is None:
            return []
        rows = conn.execute(
            """SELECT list_name, status, channel, entries, subject, outbox_path, skip_reason, error,
                      jsonb_array_length(recipients)
                 FROM ops.alert_digests WHERE updated_at >= %s ORDER BY digest_id""",
            (since,),
        ).fetchall()
    lines = []
    for name, status, channel, entries, subject, outbox, reason, error, n_recipients in rows:
        if status == "sent" and channel == "outbox":
            lines.append(f"  digest {name!r}: {entries} entries written to the outbox: {outbox} (.eml and .html)")
        elif status == "sent":
            lines.append(f"  digest {name!r}: sent by SMTP to {n_recipients} recipient(s): {subject}")
        elif status == "skipped":
            lines.append(f"  digest {name!r}: not sent: {reason}")
        else:
            lines.append(f"  digest {name!r}: {status}: {error}")
    return lines or ["  digest: nothing to do"]


def command_migrate(args: argparse.Namespace) -> int:
    from dsrwatch.warehouse import describe_location, ensure_schema

    ensure_schema()
    print(f"warehouse schema is current: {describe_location()}")
    return 0


def command_status(args: argparse.Namespace) -> int:
    """The latest run of each source, then how fresh each source is."""
    from dsrwatch import ledger
    from dsrwatch.pipeline import summaries
    from dsrwatch.warehouse import connect, ensure_schema

    ensure_schema()
    for summary in summaries(latest_per_source=True):
        print(summary.line())
    with connect() as conn:
        sources = ledger.freshness(conn)
    if sources:
        print("\nFreshness (last successful fetch; stale when older than the source allows)")
    for row in sources:
        age = f"{row['age']} ago" if row["last_success_at"] else "never loaded"
        state = "STALE" if row["is_stale"] else "fresh"
        last = f"; latest run {row['last_run_id']} {row['last_status']}" if row["last_status"] not in (None, "succeeded") else ""
        print(f"  {row['source']:<18} {state:<5} {age} (at most {row['max_age']}){last}")
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    """The flags of the warehouse against the gold set: precision, recall, misses, false flags."""
    from pathlib import Path

    from dsrwatch import evaluation
    from dsrwatch.warehouse import connect, describe_location, ensure_schema

    ensure_schema()
    cases, thresholds = evaluation.load_gold(Path(args.gold) if args.gold else evaluation.GOLD_FILE)
    with connect() as conn:
        report = evaluation.evaluate(conn, cases, thresholds)
    print(f"gold set: {len(cases)} cases; warehouse: {describe_location()}")
    print("\n".join(report.lines()))
    return 1 if report.failures else 0


def command_accept(args: argparse.Namespace) -> int:
    """Load a quarantined run despite its breaches: the operator has checked the change is real."""
    from dsrwatch.pipeline import load_from_raw
    from dsrwatch.warehouse import ensure_schema

    ensure_schema()
    try:
        summary = load_from_raw(args.run_id, accept=True)
    except (ValueError, LookupError) as exc:
        print(f"cannot accept run {args.run_id}: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    print("risk flags are re-evaluated by the next risk_flags run (`make run` or the scheduler).")
    return 0


def psql_invocation(url: str, psql_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """psql's argv and environment for the warehouse at ``url``. The password goes in PGPASSWORD, never
    on the command line: any local user reads another's argv (ps), only the owner its environment."""
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return ["psql", psycopg.conninfo.make_conninfo(**params), *psql_args], env


def command_psql(args: argparse.Namespace) -> int:
    """psql on the warehouse; for the embedded one this process keeps the server up meanwhile."""
    import subprocess

    from dsrwatch.warehouse import resolve_url

    argv, env = psql_invocation(resolve_url(), args.psql_args)
    return subprocess.call(argv, env=env)


def _standalone_pid_file():
    return config.PROJECT_ROOT / ".airflow" / "standalone.pid"


UI_HOST_DEFAULT = "127.0.0.1"


def ui_host() -> str:
    """DSR_UI_HOST: the address ``up`` binds the UI (Airflow's API server) to; 127.0.0.1 unless set,
    e.g. 0.0.0.0 for every interface. Airflow's own default, 0.0.0.0, would publish the login page."""
    return config.ui_host(UI_HOST_DEFAULT)


def simple_auth_password_file():
    """Where the simple auth manager keeps the generated admin password (as Airflow names it)."""
    from pathlib import Path

    configured = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "").strip()
    return Path(configured or Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated")


def standalone_launch() -> tuple[list[str], dict]:
    """Set up the environment of ``up``; returns airflow standalone's argv and Popen options.

    The UI binds ``ui_host()`` (AIRFLOW__API__HOST, which DSR_UI_HOST alone decides). Whatever standalone
    creates - the admin password file first - is private to the user (umask 077); a password file
    and a project ``.airflow`` left by earlier runs are made private too (0600, 0700)."""
    from pathlib import Path

    airflow_environment()
    os.environ.pop("DSR_TASK_RETRIES", None)  # the scheduler keeps the DAGs' retries
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = config.log_level("INFO")
    os.environ["AIRFLOW__API__HOST"] = ui_host()
    home = Path(os.environ["AIRFLOW_HOME"]).resolve()
    if home == (config.PROJECT_ROOT / ".airflow").resolve():
        home.chmod(0o700)
    password_file = simple_auth_password_file()
    if password_file.exists():
        password_file.chmod(0o600)
    return ["airflow", "standalone"], {"start_new_session": True, "umask": 0o077}


def command_up(args: argparse.Namespace) -> int:
    """``airflow standalone`` with the project's DAGs, in its own process group (see ``down``)."""
    import signal
    import subprocess

    from dsrwatch.files import write_atomic

    argv, options = standalone_launch()
    process = subprocess.Popen(argv, **options)
    write_atomic(_standalone_pid_file(), str(process.pid), mode=0o600)
    host, port = os.environ["AIRFLOW__API__HOST"], os.environ.get("AIRFLOW__API__PORT", "8080")
    where = ("this machine only; DSR_UI_HOST=0.0.0.0 opens it" if host == UI_HOST_DEFAULT
             else f"listening on {host}")  # fmt: skip
    print(f"airflow standalone (process group {process.pid}) starting: "
          f"http://{'127.0.0.1' if host in (UI_HOST_DEFAULT, '0.0.0.0', '::') else host}:{port} in ~20 s ({where}); "
          f"the admin password is printed above and in {simple_auth_password_file()} (mode 0600). "
          f"Stop with Ctrl-C or `make down`.", flush=True)  # fmt: skip
    try:
        return process.wait()
    except KeyboardInterrupt:
        _stop_group(process.pid, signal)
        return 0


def _stop_group(pid: int, signal) -> None:
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(grace * 10):
            time.sleep(0.1)
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return


def command_down(args: argparse.Namespace) -> int:
    import signal

    pid_file = _standalone_pid_file()
    if not pid_file.exists():
        print("no airflow standalone started by `make up` is running")
        return 0
    _stop_group(int(pid_file.read_text()), signal)
    pid_file.unlink()
    print("airflow standalone stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dsrwatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every DAG once, in dependency order, and print a summary")
    run.add_argument("dags", nargs="*", help="only these DAG ids (default: all)")
    run.set_defaults(handler=command_run)
    sub.add_parser("migrate", help="create or upgrade the warehouse schema").set_defaults(handler=command_migrate)
    sub.add_parser("status", help="the latest run of each source").set_defaults(handler=command_status)
    evaluate = sub.add_parser("evaluate", help="precision and recall of the flags against the gold set")
    evaluate.add_argument("--gold", help="gold file (default tests/gold/cases.yaml)")
    evaluate.set_defaults(handler=command_evaluate)
    accept = sub.add_parser("accept", help="load a quarantined run although it broke its expectations or guard")
    accept.add_argument("run_id", type=int, help="the quarantined run (see `make status`)")
    accept.set_defaults(handler=command_accept)
    sub.add_parser("up", help="airflow standalone with the project's DAGs").set_defaults(handler=command_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(handler=command_down)
    psql = sub.add_parser("psql", help="open psql on the warehouse (starts the embedded one if needed)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    psql.set_defaults(handler=command_psql)
    args, extra = parser.parse_known_args(argv)
    if "XDG_RUNTIME_DIR" not in os.environ:  # the fallback platformdirs (pgserver) warns about, made quiet
        runtime = f"/tmp/runtime-{os.getuid()}"
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = runtime
    if extra and args.command != "psql":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "psql":
        args.psql_args = [*args.psql_args, *extra]
    configure_logging()
    return args.handler(args)


def configure_logging() -> None:
    """The CLI's logging: DSR_LOG_LEVEL (default WARNING); secrets masked in every record at every level,
    also in the records of Airflow, requests, urllib3 and smtplib (dsrwatch.redaction)."""
    from dsrwatch import redaction

    logging.basicConfig(level=config.log_level("WARNING"), format="%(levelname)s %(name)s: %(message)s")
    redaction.install()


if __name__ == "__main__":
    sys.exit(main())
