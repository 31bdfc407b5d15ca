-- Text fields a client chooses (path, query, tenant slug, User-Agent, …) are stored cut to
-- `request_log.max_field_bytes`; this column names the ones that were, comma-separated, the way
-- `request_truncated` / `response_truncated` mark cut bodies. NULL when none was.
ALTER TABLE request_log ADD COLUMN truncated_fields TEXT;
