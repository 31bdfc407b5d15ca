-- OAuth 2.0 clients of the per-tenant token endpoint (client credentials, issue 28), the
-- access tokens they were issued and the `private_key_jwt` assertion ids already used.
-- Secrets and access tokens are stored only as SHA-256 hashes, like SCIM tokens.
CREATE TABLE oauth_clients (
    id            TEXT PRIMARY KEY,                 -- uuid; the request log's token_id
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    client_id     TEXT NOT NULL UNIQUE,
    method        TEXT NOT NULL CHECK (method IN ('client_secret', 'private_key_jwt')),
    secret_hash   BLOB,
    -- The secret before the last rotation, accepted until previous_until.
    previous_hash BLOB,
    previous_until TEXT,
    -- Registered public keys (a JWK Set or PEM), or the URL of the client's JWK Set.
    public_keys   TEXT,
    jwks_uri      TEXT,
    created       TEXT NOT NULL,
    rotated       TEXT,
    revoked       TEXT,
    last_used     TEXT,
    last_used_ip  TEXT,
    last_used_agent TEXT,
    UNIQUE (tenant_id, name)
);

CREATE TABLE oauth_tokens (
    hash      BLOB PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    client    TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    issued    TEXT NOT NULL,
    expires   TEXT NOT NULL
);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client, issued);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires);

-- RFC 7523 §3: a `jti` is accepted once; kept until the assertion expires.
CREATE TABLE oauth_assertions (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    client  TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    jti     TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (client, jti)
) WITHOUT ROWID;
CREATE INDEX oauth_assertions_expires ON oauth_assertions (expires);

-- A revoked or re-keyed client must be refused at the next request of any process, so its
-- changes bump the counter the token caches watch. Issuing an access token does not.
CREATE TRIGGER oauth_clients_inserted_bump_credentials AFTER INSERT ON oauth_clients
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER oauth_clients_deleted_bump_credentials AFTER DELETE ON oauth_clients
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER oauth_clients_changed_bump_credentials
AFTER UPDATE OF id, tenant_id, name, client_id, method, secret_hash, previous_hash,
    previous_until, public_keys, jwks_uri, revoked ON oauth_clients
BEGIN UPDATE credentials_version SET n = n + 1; END;

-- External authorization servers a tenant trusts (issue 28, optional point): JWT access tokens
-- they sign are accepted on the tenant's SCIM API, checked against their JWKS.
CREATE TABLE oauth_issuers (
    id        TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name      TEXT NOT NULL,
    issuer    TEXT NOT NULL,
    jwks_uri  TEXT NOT NULL,
    -- The `aud` required; NULL: the tenant's SCIM base URL.
    audience  TEXT,
    created   TEXT NOT NULL,
    UNIQUE (tenant_id, issuer),
    UNIQUE (tenant_id, name)
);
CREATE TRIGGER oauth_issuers_inserted_bump_credentials AFTER INSERT ON oauth_issuers
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER oauth_issuers_deleted_bump_credentials AFTER DELETE ON oauth_issuers
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER oauth_issuers_changed_bump_credentials AFTER UPDATE ON oauth_issuers
BEGIN UPDATE credentials_version SET n = n + 1; END;
