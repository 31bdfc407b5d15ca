-- The request log (every SCIM request, written off the request path in batches) and the
-- per-resource history (written in the same transaction as the change it describes).
-- Neither ever holds a token secret, an Authorization header or a password: only the token's
-- id and name, and bodies redacted before they are written.

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

CREATE TABLE resource_history (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    time          TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    token_id      TEXT,
    token_name    TEXT,
    idp           TEXT,
    -- JSON array of {"attribute", "before", "after"}, secrets already redacted.
    changes       TEXT NOT NULL
);
CREATE INDEX resource_history_resource ON resource_history (tenant_id, resource_type, resource_id, id);
