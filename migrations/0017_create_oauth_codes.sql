-- The OAuth 2.0 authorization code grant (RFC 6749 §4.1; Okta's "OAuth 2" provisioning mode):
-- redirect URIs registered per client, the codes an admin's consent mints, the grants a code
-- starts and the refresh tokens that keep a grant going. Codes and refresh tokens are stored
-- only as SHA-256 hashes, like secrets and access tokens.

-- Newline-separated, compared exactly (RFC 6749 §3.1.2). A client with one is an
-- authorization code client.
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT;

-- One admin consent, exchanged once: everything issued from it (access and refresh tokens)
-- belongs to it and ends with it.
CREATE TABLE oauth_grants (
    id           TEXT PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    client       TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    consented_by TEXT NOT NULL,
    created      TEXT NOT NULL,
    revoked      TEXT,
    revoked_why  TEXT
);
CREATE INDEX oauth_grants_client ON oauth_grants (client, created);

CREATE TABLE oauth_codes (
    hash           BLOB PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    client         TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    -- The grant the code starts when exchanged (its row is written then).
    grant_id       TEXT NOT NULL,
    -- As the authorization request sent it; NULL when it left it out (one registered URI).
    redirect_uri   TEXT,
    redirect_to    TEXT NOT NULL,
    code_challenge TEXT,
    scope          TEXT NOT NULL,
    consented_by   TEXT NOT NULL,
    issued         TEXT NOT NULL,
    expires        TEXT NOT NULL,
    -- When it was exchanged: a second exchange revokes the grant (RFC 6749 §4.1.2).
    used           TEXT
);
CREATE INDEX oauth_codes_client ON oauth_codes (client, expires);

CREATE TABLE oauth_refresh_tokens (
    hash     BLOB PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    issued   TEXT NOT NULL,
    expires  TEXT NOT NULL,
    -- When it was exchanged for its successor: presenting it again revokes the grant.
    used     TEXT
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id, issued);
CREATE INDEX oauth_refresh_tokens_expires ON oauth_refresh_tokens (expires);

-- The access tokens a grant issued, so that revoking the grant ends them.
ALTER TABLE oauth_tokens ADD COLUMN grant_id TEXT REFERENCES oauth_grants(id) ON DELETE CASCADE;

-- A revoked grant must end its access tokens at the next request of any process, like a
-- revoked client: bump the counter the token caches watch.
CREATE TRIGGER oauth_grants_revoked_bump_credentials AFTER UPDATE OF revoked ON oauth_grants
BEGIN UPDATE credentials_version SET n = n + 1; END;
