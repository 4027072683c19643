-- Analyst views over the change history and the run ledger.

CREATE VIEW analyst.change_history AS
SELECT c.change_id, c.changed_at, c.source, c.entity_table, c.entity_key, c.change, c.changed_columns, c.run_id
  FROM core.entity_changes c;

COMMENT ON VIEW analyst.change_history IS 'Every entity added, modified, removed or restored by a source run after its baseline (the baseline''s additions are each row''s first_seen_at).';
COMMENT ON COLUMN analyst.change_history.change_id IS 'Order of the changes.';
COMMENT ON COLUMN analyst.change_history.changed_at IS 'When the run that saw the change loaded it.';
COMMENT ON COLUMN analyst.change_history.source IS 'The source (and DAG) whose run recorded it.';
COMMENT ON COLUMN analyst.change_history.entity_table IS 'The core table, e.g. core.submarine_cables or core.cable_parties.';
COMMENT ON COLUMN analyst.change_history.entity_key IS 'The row''s key, its columns joined by |, e.g. a cable id or cable_id|role|organisation_id.';
COMMENT ON COLUMN analyst.change_history.change IS 'added, modified, removed (left the source) or restored (came back).';
COMMENT ON COLUMN analyst.change_history.changed_columns IS 'For modifications: {column: [old, new]}.';
COMMENT ON COLUMN analyst.change_history.run_id IS 'The run in analyst.source_runs.';

CREATE VIEW analyst.source_runs AS
SELECT run_id, source, status, fetch_mode, started_at, finished_at,
       extract(epoch FROM finished_at - started_at)::numeric(10, 1) AS seconds,
       requests, bytes_fetched, entities_parsed, added, modified, removed, is_baseline, error
  FROM ops.source_runs;

COMMENT ON VIEW analyst.source_runs IS 'One row per source run: what was fetched and what changed (risk evaluations: analyst.risk_evaluations).';
COMMENT ON COLUMN analyst.source_runs.run_id IS 'Run id, in order.';
COMMENT ON COLUMN analyst.source_runs.source IS 'Source name (= DAG id).';
COMMENT ON COLUMN analyst.source_runs.status IS 'running, succeeded, failed, skipped (e.g. nothing to replay for the source), quarantined (the load broke its expectations or change guard and was rolled back: the warehouse is as before, the payloads are kept; see error) or abandoned (the run died without recording an outcome).';
COMMENT ON COLUMN analyst.source_runs.fetch_mode IS 'live, record or replay.';
COMMENT ON COLUMN analyst.source_runs.started_at IS 'When the fetch started.';
COMMENT ON COLUMN analyst.source_runs.finished_at IS 'When the load (or failure) was recorded.';
COMMENT ON COLUMN analyst.source_runs.seconds IS 'Duration of fetch and load.';
COMMENT ON COLUMN analyst.source_runs.requests IS 'HTTP requests made (replayed files count).';
COMMENT ON COLUMN analyst.source_runs.bytes_fetched IS 'Bytes of the payloads.';
COMMENT ON COLUMN analyst.source_runs.entities_parsed IS 'Main entities in the payloads.';
COMMENT ON COLUMN analyst.source_runs.added IS 'New entities (and entities that came back).';
COMMENT ON COLUMN analyst.source_runs.modified IS 'Changed entities (their own values or their parts: owners, landing points...).';
COMMENT ON COLUMN analyst.source_runs.removed IS 'Entities that left the source.';
COMMENT ON COLUMN analyst.source_runs.is_baseline IS 'True for a source''s first successful load: its entities and flags are not news.';
COMMENT ON COLUMN analyst.source_runs.error IS 'Why the run failed, was quarantined or abandoned, for a person to act on.';

CREATE VIEW analyst.quarantined_records AS
SELECT q.record_id, q.run_id, q.source, q.url, q.record_key, q.field, q.value_excerpt, q.reason, q.set_aside_at,
       r.status AS run_status
  FROM ops.quarantined_records q JOIN ops.source_runs r USING (run_id);

COMMENT ON VIEW analyst.quarantined_records IS 'Records a source run set aside as invalid: the rest of the run loaded, and the record''s entity kept its previous version (it was not marked removed).';
COMMENT ON COLUMN analyst.quarantined_records.record_id IS 'Row id.';
COMMENT ON COLUMN analyst.quarantined_records.run_id IS 'The run in analyst.source_runs.';
COMMENT ON COLUMN analyst.quarantined_records.source IS 'Source name.';
COMMENT ON COLUMN analyst.quarantined_records.url IS 'The payload the record came from, when known (the payload is kept in raw).';
COMMENT ON COLUMN analyst.quarantined_records.record_key IS 'The record''s key as the source gives it (e.g. a cable id), cut to 200 characters.';
COMMENT ON COLUMN analyst.quarantined_records.field IS 'The field that broke a rule; NULL when the whole record could not be read.';
COMMENT ON COLUMN analyst.quarantined_records.value_excerpt IS 'The first 120 characters of the offending value.';
COMMENT ON COLUMN analyst.quarantined_records.reason IS 'The table and the rule broken, e.g. "core.landing_points: outside -90..90".';
COMMENT ON COLUMN analyst.quarantined_records.set_aside_at IS 'When the run set it aside.';
COMMENT ON COLUMN analyst.quarantined_records.run_status IS 'What became of the run: succeeded, or quarantined when too many records were bad.';

CREATE VIEW analyst.risk_evaluations AS
SELECT run_id, status, started_at, finished_at,
       extract(epoch FROM finished_at - started_at)::numeric(10, 1) AS seconds,
       patterns, matches, opened, opened_baseline, reopened, severity_changed, resolved, error
  FROM ops.risk_evaluations;

COMMENT ON VIEW analyst.risk_evaluations IS 'One row per risk evaluation (DAG risk_flags): how many patterns ran, how many entities matched, and what happened to the flags.';
COMMENT ON COLUMN analyst.risk_evaluations.run_id IS 'Evaluation id; risk.flag_events and analyst.risk_flags refer to it (one sequence with source runs).';
COMMENT ON COLUMN analyst.risk_evaluations.status IS 'running, succeeded or failed (flags left as they were).';
COMMENT ON COLUMN analyst.risk_evaluations.started_at IS 'When the evaluation started.';
COMMENT ON COLUMN analyst.risk_evaluations.finished_at IS 'When it committed or failed.';
COMMENT ON COLUMN analyst.risk_evaluations.seconds IS 'Duration.';
COMMENT ON COLUMN analyst.risk_evaluations.patterns IS 'Pattern files evaluated.';
COMMENT ON COLUMN analyst.risk_evaluations.matches IS '(pattern, entity) pairs that matched.';
COMMENT ON COLUMN analyst.risk_evaluations.opened IS 'Flags opened (first match of a pair), baseline ones included.';
COMMENT ON COLUMN analyst.risk_evaluations.opened_baseline IS 'Of those, opened as part of a baseline (not news).';
COMMENT ON COLUMN analyst.risk_evaluations.reopened IS 'Resolved flags that matched again.';
COMMENT ON COLUMN analyst.risk_evaluations.severity_changed IS 'Open flags whose severity rose or fell.';
COMMENT ON COLUMN analyst.risk_evaluations.resolved IS 'Open flags that no longer match.';
COMMENT ON COLUMN analyst.risk_evaluations.error IS 'Why it failed.';
