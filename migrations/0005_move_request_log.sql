-- The request log moved to its own database file (migrations/log/0001_create_request_log.sql);
-- the store copies any entries into it before this migration runs.
DROP TABLE request_log;
