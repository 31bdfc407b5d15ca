-- The request log lives in its own database file beside the main one (`scimd-log.db` for
-- `scimd.db`): its batches are written by their own connection, in parallel with SCIM writes
-- and without an fsync per commit, so recording requests never holds up acknowledging them.
-- It never holds a token secret, an Authorization header or a password: only the token's id
-- and name, and bodies redacted before they are written.

CREATE TABLE request_log (
    id                 INTEGER PRIMARY KEY,
    time               TEXT NOT NULL,
    -- NULL when the URL named a tenant that does not exist; `tenant` keeps the slug as sent.
    tenant_id          INTEGER,
    tenant             TEXT NOT NULL,
    token_id           TEXT,
    token_name         TEXT,
    client_ip          TEXT,
    user_agent         TEXT,
    idp                TEXT NOT NULL,
    method             TEXT NOT NULL,
    path               TEXT NOT NULL,
    query              TEXT,
    status             INTEGER NOT NULL,
    latency_ms         REAL NOT NULL,
    resource_type      TEXT,
    resource_id        TEXT,
    scim_type          TEXT,
    detail             TEXT,
    request_body       TEXT,
    response_body      TEXT,
    request_truncated  INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0
);
-- Newest-first listings per tenant / per token, retention by time, lookups by resource.
CREATE INDEX request_log_time ON request_log (time);
CREATE INDEX request_log_tenant ON request_log (tenant, id);
CREATE INDEX request_log_token ON request_log (token_id, time);
CREATE INDEX request_log_resource ON request_log (resource_id);
