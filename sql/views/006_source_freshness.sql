-- How fresh each source is: its last successful fetch against the age it declares it may reach.
CREATE VIEW ops.source_freshness AS
SELECT source, d.title, d.schedule, d.max_age,
       s.last_success_at,
       date_trunc('second', clock_timestamp() - s.last_success_at) AS age,
       coalesce(clock_timestamp() - s.last_success_at > d.max_age, true) AS is_stale,
       l.run_id AS last_run_id, l.status AS last_status, l.finished_at AS last_run_at, l.error AS last_error
  FROM ops.source_declarations d
  LEFT JOIN (SELECT source, at AS last_success_at FROM ops.last_successful_fetch) s USING (source)
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.finished_at, r.error FROM ops.source_runs r
                      WHERE r.source = d.source AND r.status NOT IN ('running', 'skipped')
                      ORDER BY r.run_id DESC LIMIT 1) l ON true;

CREATE VIEW analyst.source_freshness AS SELECT * FROM ops.source_freshness;

COMMENT ON VIEW analyst.source_freshness IS 'One row per source: its last successful fetch, how old that is, whether it is stale (older than the source declares it may get, or never loaded), and how its latest run ended.';
COMMENT ON COLUMN analyst.source_freshness.source IS 'Source name (= DAG id).';
COMMENT ON COLUMN analyst.source_freshness.title IS 'What the source is.';
COMMENT ON COLUMN analyst.source_freshness.schedule IS 'Cron schedule (UTC).';
COMMENT ON COLUMN analyst.source_freshness.max_age IS 'How old its data may get before it is stale (by default twice the schedule''s period).';
COMMENT ON COLUMN analyst.source_freshness.last_success_at IS 'Fetch time of the latest successful run.';
COMMENT ON COLUMN analyst.source_freshness.age IS 'Time since then.';
COMMENT ON COLUMN analyst.source_freshness.is_stale IS 'True when age exceeds max_age, or the source never loaded.';
COMMENT ON COLUMN analyst.source_freshness.last_run_id IS 'The latest finished run (analyst.source_runs).';
COMMENT ON COLUMN analyst.source_freshness.last_status IS 'How it ended: succeeded, failed, quarantined or abandoned.';
COMMENT ON COLUMN analyst.source_freshness.last_run_at IS 'When it ended.';
COMMENT ON COLUMN analyst.source_freshness.last_error IS 'Why it failed, was quarantined or abandoned.';
