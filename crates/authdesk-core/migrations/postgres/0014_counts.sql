-- Version 14 (SQLite's schema 20, which keeps account connector counts by triggers for the
-- window's first query): nothing here; the team server counts with GROUP BY. Kept so the
-- two lists stay in step.
SELECT 1;
