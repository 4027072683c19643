"""DAG integrity: every DAG file imports cleanly, fast, without heavy imports, with tags and retries."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DAGBAG_TIMES

ROOT = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("pandas", "matplotlib", "psycopg", "sqlalchemy.dialects.postgresql.psycopg", "alembic",
                 "pgserver", "openpyxl", "rapidfuzz", "dsrwatch.pipeline")

# Runs in a fresh interpreter so sys.modules shows exactly what parsing the DAG files imported.
PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
bag = DagBag(dag_folder=sys.argv[1])
sys.stdout.flush()
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {"tags": sorted(d.tags), "fileloc": d.fileloc,
                        "retries": {t.task_id: t.retries for t in d.tasks},
                        "n_tasks": len(d.tasks), "schedule": getattr(d.timetable, "expression", None),
                        "outlets": {t.task_id: [a.uri for a in t.outlets] for t in d.tasks},
                        "schedule_assets": sorted(a.uri for a in getattr(getattr(d.timetable, "asset_condition", None),
                                                                         "objects", ()) or ())}
             for d in bag.dags.values()},
    "stats": [{"file": s.file, "seconds": s.duration.total_seconds(), "dags": s.dag_num} for s in bag.dagbag_stats],
    "heavy": sorted(m for m in set(sys.modules) - before if m in %r),
}))
"""


@pytest.fixture(scope="module")
def dagbag_report(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "PYTHONPATH": str(ROOT / "plugins"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    env.pop("DSR_TASK_RETRIES", None)
    out = subprocess.run([sys.executable, "-c", PROBE % (HEAVY_MODULES,), str(ROOT / "dags")],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_import_errors(dagbag_report):
    assert dagbag_report["errors"] == {}
    assert dagbag_report["dags"], "no DAGs found"


def test_every_dag_file_holds_a_dag_and_loads_fast(dagbag_report, request):
    dag_files = sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    loaded = {Path(s["file"]).name: s for s in dagbag_report["stats"]}
    assert sorted(loaded) == dag_files
    lines = [f"  {name:<32} {s['seconds'] * 1000:7.1f} ms  ({s['dags']} DAG)" for name, s in sorted(loaded.items())]
    # Shown in the test run's summary by tests/conftest.py (pytest_terminal_summary).
    request.config.stash.setdefault(DAGBAG_TIMES, []).extend(lines)
    for name, stat in loaded.items():
        assert stat["dags"] >= 1, f"{name} defines no DAG"
        # The scheduler re-parses every file often; a slow file hints at I/O or heavy imports.
        assert stat["seconds"] < 2.0, f"{name} took {stat['seconds']:.2f}s to parse"


def test_no_heavy_imports_at_parse_time(dagbag_report):
    assert dagbag_report["heavy"] == []


def test_tags_retries_and_known_schedules(dagbag_report):
    for dag_id, dag in dagbag_report["dags"].items():
        assert "dsrwatch" in dag["tags"], dag_id
        assert {"ingest", "reference", "risk", "alert"} & set(dag["tags"]), f"{dag_id} has no stage tag"
        fetch_like = {t: r for t, r in dag["retries"].items() if t in ("fetch", "load")}
        assert all(r >= 1 for r in fetch_like.values()), f"{dag_id} fetch/load tasks must retry: {fetch_like}"


def test_ingest_dags_publish_their_asset(dagbag_report):
    for dag_id, dag in dagbag_report["dags"].items():
        if "ingest" in dag["tags"] or "reference" in dag["tags"]:
            assert dag["outlets"]["load"] == [f"x-dsrwatch://warehouse/core/{dag_id}"], dag_id


def test_risk_flags_runs_when_any_source_loads(dagbag_report):
    sources = {dag_id for dag_id, dag in dagbag_report["dags"].items()
               if {"ingest", "reference"} & set(dag["tags"])}  # fmt: skip
    expected = sorted(f"x-dsrwatch://warehouse/core/{name}" for name in sources)
    assert dagbag_report["dags"]["risk_flags"]["schedule_assets"] == expected
    assert dagbag_report["dags"]["risk_flags"]["outlets"]["evaluate_patterns"] == ["x-dsrwatch://warehouse/risk/flags"]


def test_each_source_is_declared_once_and_has_its_dag_views_and_expectations(dagbag_report):
    from dsrwatch.sources import get_source, source_names

    views = {line.split()[2] for f in (ROOT / "sql" / "views").glob("*.sql")
             for line in f.read_text().splitlines() if line.startswith("CREATE VIEW ")}  # fmt: skip
    names = source_names()
    assert len(names) >= 8
    for name in names:
        module = get_source(name)
        spec = module.SOURCE
        assert spec.name == name == module.__name__.rsplit(".", 1)[-1]
        dag = dagbag_report["dags"][name]  # the DAG is made from the declaration
        assert dag["schedule"] == spec.schedule, name
        assert spec.stage in dag["tags"] and Path(dag["fileloc"]).name == "sources.py", name
        assert spec.views and set(spec.views) <= views, (name, set(spec.views) - views)
        assert spec.expectations, f"{name} declares no expectations"
        assert module.__doc__, f"{name} has no docstring (it is the DAG's documentation)"
