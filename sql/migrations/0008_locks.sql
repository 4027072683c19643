-- 0008 named locks analysts cannot take: a row per lock name, locked FOR UPDATE (exclusive) or
-- FOR SHARE (shared) by plugins/dsrwatch/warehouse/locks.py. They replace advisory locks, which any
-- login - dsr_analyst included - can take and hold, stalling the risk engine for as long as it likes.
-- dsr_analyst has no privilege on schema ops, so it can neither read nor lock these rows.
-- Applied by Alembic revision 0008 (plugins/dsrwatch/warehouse/migrations/versions).

CREATE TABLE IF NOT EXISTS ops.locks (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON ops.locks FROM PUBLIC;

-- The risk engine evaluates under 'risk_flags' (exclusive); digest reads share it. Other names
-- (e.g. 'alert_digests:<list>') are created on first use.
INSERT INTO ops.locks (name) VALUES ('risk_flags') ON CONFLICT DO NOTHING;

COMMENT ON TABLE ops.locks IS 'Named locks: one row per name, row-locked by the transaction that holds it (analysts cannot read or lock them).';
COMMENT ON COLUMN ops.locks.name IS 'Lock name: risk_flags (risk engine; digest reads share it), alert_digests:<list> (one digest delivery per recipient list at a time).';
