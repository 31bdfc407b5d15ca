-- The resource index leads with the entry's id in blocks of 4,096 (`id >> 12`), then the
-- id prefix. Resource ids are random, so in the index of 0002 each batch of entries landed
-- on that many random pages, all rewritten to the WAL and checkpointed at every commit: the
-- cost per entry grew with the log, to 12 µs at 400,000 entries (more than the rest of the
-- insert). Here a batch only touches the pages of the newest block or two: about 1 µs at any
-- size. A search by resource probes each block of the log (245 at the 1,000,000-entry
-- default), which costs a millisecond once instead of a write amplification per request.
-- Queries must spell the key as `id >> 12` for SQLite to match this index.
DROP INDEX request_log_resource;
CREATE INDEX request_log_resource ON request_log (id >> 12, substr(resource_id, 1, 8));
