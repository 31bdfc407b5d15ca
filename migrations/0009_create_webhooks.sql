-- Webhooks (issue 23): endpoints that the events outbox is pushed to. `cursor` is the `seq` of
-- the last event the endpoint has acknowledged (or skipped by its type filter); the delivery
-- worker makes it durable at most every few hundred events or a second, so after a crash an
-- endpoint may get the last events again, with the same webhook-id. `secret` is the signing
-- key itself (a `whsec_` string): signing needs it, so it cannot be stored hashed; it is shown
-- once and never again. `previous_secret` also signs until `previous_expires` (a rotation).
-- `generation` moves when an admin replays the endpoint: the worker writes its cursor and
-- state only while the generation it read is current, so it never undoes a replay.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    url              TEXT NOT NULL,
    types            TEXT NOT NULL,                -- JSON array of event types; [] = all
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_expires TEXT,
    state            TEXT NOT NULL CHECK (state IN ('active', 'failing', 'disabled')),
    state_reason     TEXT,
    state_since      TEXT NOT NULL,
    cursor           INTEGER NOT NULL,
    generation       INTEGER NOT NULL DEFAULT 0,
    created          TEXT NOT NULL
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id);
