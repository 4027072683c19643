-- Runs can be quarantined (a load that broke its expectations or change guard: rolled back, its
-- raw payloads kept, waiting for an operator to accept it) or abandoned (killed mid-way and found
-- still "running" by the next start of the same source).
ALTER TABLE ops.source_runs DROP CONSTRAINT IF EXISTS source_runs_status_check;
ALTER TABLE ops.source_runs ADD CONSTRAINT source_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'quarantined', 'abandoned'));
-- Who runs this run: the backend that holds it, so the next start can tell a live run from an orphan.
ALTER TABLE ops.source_runs ADD COLUMN IF NOT EXISTS phase text;
ALTER TABLE ops.source_runs ADD COLUMN IF NOT EXISTS backend_pid integer;
ALTER TABLE ops.source_runs ADD COLUMN IF NOT EXISTS backend_started_at timestamptz;
COMMENT ON COLUMN ops.source_runs.phase IS 'fetching, fetched, loading, or NULL once finished.';

-- Records set aside by validation: the rest of their batch loads; the entity keeps its previous version.
CREATE TABLE IF NOT EXISTS ops.quarantined_records (
    record_id     bigserial PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES ops.source_runs,
    source        text NOT NULL,
    url           text,
    record_key    text,
    field         text,
    value_excerpt text,
    reason        text NOT NULL,
    set_aside_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quarantined_records_run_idx ON ops.quarantined_records (run_id);
COMMENT ON TABLE ops.quarantined_records IS 'Records a run set aside as invalid, with the field and the rule they broke.';

-- What each source declares about itself, refreshed by every run (for freshness and the digest footer).
CREATE TABLE IF NOT EXISTS ops.source_declarations (
    source      text PRIMARY KEY,
    title       text NOT NULL,
    schedule    text NOT NULL,
    max_age     interval NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.source_declarations IS 'Each source''s schedule and how old its data may get before it counts as stale.';
