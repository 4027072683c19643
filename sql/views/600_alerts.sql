-- The weekly alert email's ledger for analysts: what went out when, to which list, and which
-- flags it reported. Recipient addresses stay in ops.alert_digests (not granted to analysts).

CREATE VIEW analyst.alert_digests AS
SELECT d.digest_id,
       d.list_name,
       d.interval_start,
       d.interval_end,
       d.status,
       d.channel,
       d.subject,
       d.message_id,
       d.entries,
       d.entry_flag_ids,
       jsonb_array_length(d.recipients) AS recipient_count,
       d.attempts,
       d.skip_reason,
       d.error,
       d.created_at,
       d.sent_at
  FROM ops.alert_digests d;

COMMENT ON VIEW analyst.alert_digests IS 'One row per (recipient list, interval) of the weekly alert email: sent exactly once, or skipped / failed with the reason.';
COMMENT ON COLUMN analyst.alert_digests.digest_id IS 'Ledger row id.';
COMMENT ON COLUMN analyst.alert_digests.list_name IS 'Recipient list name ("default" for DSR_ALERT_TO or the outbox).';
COMMENT ON COLUMN analyst.alert_digests.interval_start IS 'Start of the reported interval (inclusive, UTC).';
COMMENT ON COLUMN analyst.alert_digests.interval_end IS 'End of the reported interval (exclusive, UTC).';
COMMENT ON COLUMN analyst.alert_digests.status IS 'sent, skipped (see skip_reason), failed (see error; retried), sending (under way or interrupted).';
COMMENT ON COLUMN analyst.alert_digests.channel IS 'smtp or outbox (files under <DSR_DATA_DIR>/outbox when no SMTP connection or no recipients).';
COMMENT ON COLUMN analyst.alert_digests.subject IS 'Subject line of the message.';
COMMENT ON COLUMN analyst.alert_digests.message_id IS 'Message-ID header: stable per (list, interval), so a resend is recognisable.';
COMMENT ON COLUMN analyst.alert_digests.entries IS 'New or returning entities reported.';
COMMENT ON COLUMN analyst.alert_digests.entry_flag_ids IS 'flag_id values of analyst.risk_flags reported, by section (new, back, raised, resolved).';
COMMENT ON COLUMN analyst.alert_digests.recipient_count IS 'How many addresses the message went to (0 for the outbox).';
COMMENT ON COLUMN analyst.alert_digests.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN analyst.alert_digests.skip_reason IS 'Why nothing was sent (interval before the first risk evaluation; empty week with send_empty false).';
COMMENT ON COLUMN analyst.alert_digests.error IS 'Last delivery error, if any.';
COMMENT ON COLUMN analyst.alert_digests.created_at IS 'When the row was first written.';
COMMENT ON COLUMN analyst.alert_digests.sent_at IS 'When the message was accepted by the SMTP server or written to the outbox.';
