-- Which source owns each core table it alone writes (refreshed by every run from the sources'
-- declarations): views find a table's source here instead of naming the source in SQL.
CREATE TABLE IF NOT EXISTS ops.source_tables (
    table_name text PRIMARY KEY,
    source     text NOT NULL
);
COMMENT ON TABLE ops.source_tables IS 'The source that alone writes each core table (shared tables are not listed).';
