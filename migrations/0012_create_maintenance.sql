-- When the last maintenance tasks ran and what they found: `backup` (the file written by
-- `scimd backup`) and `doctor` (the report of `scimd doctor`, as JSON, shown on the dashboard).
-- One row per task, replaced each run.
CREATE TABLE maintenance (
    task   TEXT PRIMARY KEY,
    at     TEXT NOT NULL,
    detail TEXT NOT NULL
);
