"""Risk flags: every pattern in sql/risk_patterns, set-based, in one transaction.

Runs whenever any source's load updates its Asset. A new match opens a flag, a vanished one
resolves it, a returning one reopens it; the first evaluation of a source is its baseline.
Counts (opened, reopened, resolved) go to ops.source_runs; flags to analyst.risk_flags.
"""

from airflow.sdk import dag

from dsrwatch.orchestration import DEFAULT_ARGS, START_DATE, any_source_updated, evaluate_risk_task


@dag(
    schedule=any_source_updated(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dsrwatch", "risk"],
    doc_md=__doc__,
)
def risk_flags():
    evaluate_risk_task()


risk_flags()
