-- Corrections in force (core.corrections, seed plugins/dsrwatch/reference/corrections.yaml): an
-- entity closed from a date on counts as gone in every risk entity view (is_present false), so no
-- pattern matches it and its open flags resolve.
CREATE VIEW risk.closed_entities AS
SELECT entity_kind, entity_id, effective, source_url, note
  FROM core.corrections
 WHERE removed_at IS NULL AND correction = 'closed' AND effective <= current_date;
