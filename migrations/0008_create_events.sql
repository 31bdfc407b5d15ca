-- The events outbox (issue 22): every committed change to a user or group appends its events in
-- the transaction that makes it, so there is no event without its change and no change without
-- its event. `seq` is the consumers' cursor: the rowid SQLite assigns (the largest plus one)
-- inside the writer's transaction, so it is global, monotonic and gap-free (a rolled-back
-- write takes its rows, and their numbers, with it); pruning always keeps the newest event, so
-- a number is never handed out twice. The body is stored without `seq`, which is spliced in
-- when it is served.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    -- Stable across deliveries. Random, so not indexed: an index on it would cost every write
    -- a page in a random place, and nothing looks events up by id.
    id            TEXT NOT NULL,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    type          TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    body          TEXT NOT NULL                  -- the event's JSON, served as stored
);
CREATE INDEX events_by_tenant ON events (tenant_id, seq);
CREATE INDEX events_by_resource ON events (tenant_id, resource_type, resource_id, seq);

-- One row: the highest pruned number (a cursor below it cannot be served), and the bytes of
-- the bodies up to `counted_through` (the pruner adds newer events as it passes, so writes do
-- not touch this row: retention by size without a scan and without a write per event).
CREATE TABLE event_sequence (
    pruned_through  INTEGER NOT NULL,
    counted_through INTEGER NOT NULL,
    body_bytes      INTEGER NOT NULL
);
INSERT INTO event_sequence (pruned_through, counted_through, body_bytes) VALUES (0, 0, 0);

-- What a token may do: `scim` (the SCIM API) or `events` (read this tenant's events feed and
-- nothing else).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'scim' CHECK (kind IN ('scim', 'events'));
