-- The latest successful fetch of each source: the views show it as last_seen_at for rows still
-- present (a merge writes last_seen_at only when a row changes). One view, read by every other.
CREATE VIEW ops.last_successful_fetch AS
SELECT source, max(fetched_at) AS at
  FROM ops.source_runs
 WHERE status = 'succeeded'
 GROUP BY source;
