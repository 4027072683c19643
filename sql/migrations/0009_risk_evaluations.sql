-- Risk evaluations get a ledger of their own: their counters are flags opened, reopened, re-rated
-- and resolved, not entities added, modified and removed. Run ids stay one sequence with source
-- runs (flags and flag events keep pointing at the evaluation that wrote them).
CREATE TABLE IF NOT EXISTS ops.risk_evaluations (
    run_id           bigint PRIMARY KEY DEFAULT nextval('ops.source_runs_run_id_seq'),
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    airflow_run_id   text,
    patterns         integer,
    matches          integer,
    opened           integer,
    opened_baseline  integer,
    reopened         integer,
    severity_changed integer,
    resolved         integer,
    error            text,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE ops.risk_evaluations IS 'One row per risk evaluation: patterns run, matches, flags opened / reopened / re-rated / resolved.';

INSERT INTO ops.risk_evaluations (run_id, status, started_at, finished_at, airflow_run_id, matches, opened,
                                  opened_baseline, reopened, severity_changed, resolved, error, details)
SELECT run_id, status, started_at, finished_at, airflow_run_id, entities_parsed,
       (details ->> 'opened')::integer, (details ->> 'opened_baseline')::integer, (details ->> 'reopened')::integer,
       (details ->> 'severity_changed')::integer, (details ->> 'resolved')::integer, error,
       details - 'opened' - 'opened_baseline' - 'reopened' - 'severity_changed' - 'resolved'
  FROM ops.source_runs
 WHERE source = 'risk_flags' AND status IN ('running', 'succeeded', 'failed')
ON CONFLICT (run_id) DO NOTHING;
DELETE FROM ops.source_runs WHERE source = 'risk_flags';
