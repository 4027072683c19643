-- The latest successful fetch of each source: the views show it as last_seen_at for rows still
-- present (a merge writes last_seen_at only when a row changes). One view, read by every other.
CREATE VIEW ops.last_successful_fetch AS
SELECT source, max(fetched_at) AS at
  FROM ops.source_runs
 WHERE status = 'succeeded'
 GROUP BY source;

-- The same per core table, for tables one source alone writes (ops.source_tables).
CREATE VIEW ops.table_last_fetch AS
SELECT t.table_name, t.source, f.at
  FROM ops.source_tables t
  LEFT JOIN ops.last_successful_fetch f USING (source);
