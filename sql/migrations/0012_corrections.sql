-- Reviewed corrections applied over source data (seed: plugins/dsrwatch/reference/corrections.yaml).
CREATE TABLE IF NOT EXISTS core.corrections (
    correction_id   text PRIMARY KEY,
    entity_kind     text NOT NULL,
    entity_id       text NOT NULL,
    correction      text NOT NULL CHECK (correction IN ('closed')),
    effective       date NOT NULL,
    source_url      text NOT NULL,
    note            text,
    content_hash    uuid GENERATED ALWAYS AS (md5(quote_nullable(entity_kind) || '|' || quote_nullable(entity_id)
                                                  || '|' || quote_nullable(correction)
                                                  || '|' || quote_nullable((effective - DATE '1970-01-01')::text)
                                                  || '|' || quote_nullable(source_url) || '|' || quote_nullable(note))::uuid) STORED,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
COMMENT ON TABLE core.corrections IS 'Reviewed corrections over source data, each with a date and a public source (plugins/dsrwatch/reference/corrections.yaml).';
