-- The per-resource index of the events outbox (0008) put every event on a random leaf page, a
-- page written, copied into the writer's savepoint journal and checkpointed per PATCH: with it,
-- PATCH throughput with events was 0.87 of without (issue 22's target is 0.90). What used it
-- reads the outbox in bounded windows of the sequence instead: the Events page's resource and
-- type filters (`events.browse_scan_rows` rows per page) and an erase (`deletion.batch_rows`
-- rows per transaction).
DROP INDEX events_by_resource;
