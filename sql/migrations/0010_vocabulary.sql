-- The vocabulary tables SQL reads; their rows are kept equal to plugins/dsrwatch/vocabulary.py by
-- ensure_schema (one definition, read by Python and SQL alike).
CREATE TABLE IF NOT EXISTS risk.severities (
    severity text PRIMARY KEY,
    weight   integer NOT NULL,
    rank     integer NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS risk.entity_categories (
    entity_kind text PRIMARY KEY,
    category    text NOT NULL UNIQUE,
    label       text NOT NULL,
    position    integer NOT NULL
);
