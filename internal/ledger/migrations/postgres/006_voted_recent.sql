-- Nothing: SQLite's bitmap gains a table of recent marks (see sqlite/006_voted_recent.sql); PostgreSQL
-- keeps its voted table. The version number stays the same on both.
SELECT 1;
