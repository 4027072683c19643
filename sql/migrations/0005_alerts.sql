-- 0005 the weekly alert email's delivery ledger: one row per (recipient list, interval), so each
-- digest goes out exactly once however often the task runs or retries.
-- Applied by Alembic revision 0005 (plugins/dsrwatch/warehouse/migrations/versions); protocol in
-- plugins/dsrwatch/alerts/delivery.py.

CREATE TABLE ops.alert_digests (
    digest_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_name       text NOT NULL,
    interval_start  timestamptz NOT NULL,
    interval_end    timestamptz NOT NULL,
    message_id      text NOT NULL,
    subject         text,
    recipients      jsonb NOT NULL DEFAULT '[]',
    entry_flag_ids  jsonb NOT NULL DEFAULT '{}',
    entries         integer NOT NULL DEFAULT 0,
    status          text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
    channel         text CHECK (channel IN ('smtp', 'outbox')),
    outbox_path     text,
    skip_reason     text,
    attempts        integer NOT NULL DEFAULT 0,
    error           text,
    airflow_run_id  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (list_name, interval_start, interval_end),
    CHECK (interval_start < interval_end),
    CHECK (status <> 'sent' OR (sent_at IS NOT NULL AND channel IS NOT NULL))
);
CREATE INDEX alert_digests_sent_idx ON ops.alert_digests (list_name, interval_end DESC) WHERE status = 'sent';

COMMENT ON TABLE ops.alert_digests IS 'Ledger of the weekly alert email: one row per (recipient list, interval); a row with status sent is never sent again.';
COMMENT ON COLUMN ops.alert_digests.list_name IS 'Recipient list (Variable dsr_alert_lists / DSR_ALERT_LISTS; "default" for DSR_ALERT_TO or the outbox).';
COMMENT ON COLUMN ops.alert_digests.interval_start IS 'Start of the reported interval (inclusive).';
COMMENT ON COLUMN ops.alert_digests.interval_end IS 'End of the reported interval (exclusive).';
COMMENT ON COLUMN ops.alert_digests.message_id IS 'Message-ID header, derived from (list, interval): the same on every attempt.';
COMMENT ON COLUMN ops.alert_digests.recipients IS 'To addresses of the attempt (JSON array); empty for the outbox.';
COMMENT ON COLUMN ops.alert_digests.entry_flag_ids IS 'risk.flags ids reported, by section: {"new": [...], "back": [...], "raised": [...], "resolved": [...]}.';
COMMENT ON COLUMN ops.alert_digests.entries IS 'Number of new or returning entities (what the subject counts).';
COMMENT ON COLUMN ops.alert_digests.status IS 'sending (attempt under way or interrupted), sent, failed (error says why; retried), skipped (skip_reason says why; nothing sent).';
COMMENT ON COLUMN ops.alert_digests.channel IS 'smtp (Airflow connection smtp_default) or outbox (files under <DSR_DATA_DIR>/outbox).';
COMMENT ON COLUMN ops.alert_digests.outbox_path IS 'The .eml written when channel is outbox.';
COMMENT ON COLUMN ops.alert_digests.attempts IS 'Delivery attempts so far (each sending transition counts one).';
COMMENT ON COLUMN ops.alert_digests.sent_at IS 'When the SMTP server accepted the message (or the outbox file was written).';
