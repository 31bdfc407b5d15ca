-- The events outbox (issue 22): every committed change to a user or group appends its events in
-- the transaction that makes it, so there is no event without its change and no change without
-- its event. `seq` is the consumers' cursor: allocated from `event_sequence` inside the writer's
-- transaction, so it is global, monotonic and gap-free (a rolled-back write returns its numbers),
-- and never reused after pruning.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,          -- stable across deliveries
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    type          TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    body          TEXT NOT NULL                  -- the event's JSON, served as stored
);
CREATE INDEX events_by_tenant ON events (tenant_id, seq);
CREATE INDEX events_by_resource ON events (tenant_id, resource_type, resource_id, seq);

-- One row: the last sequence number handed out, the highest pruned (a cursor below it cannot
-- be served), and the bytes of the bodies kept (retention by size without a scan).
CREATE TABLE event_sequence (
    last          INTEGER NOT NULL,
    pruned_through INTEGER NOT NULL,
    body_bytes    INTEGER NOT NULL
);
INSERT INTO event_sequence (last, pruned_through, body_bytes) VALUES (0, 0, 0);

-- What a token may do: `scim` (the SCIM API) or `events` (read this tenant's events feed and
-- nothing else).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'scim' CHECK (kind IN ('scim', 'events'));
