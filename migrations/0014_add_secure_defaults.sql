-- Secure defaults for new installs (issue 27). `install_defaults` holds what a database was
-- created with, so that a default made stricter for new installs never changes an upgraded
-- one behind its admin's back: a database that already had a tenant when this ran is an
-- upgrade and gets no rows (the behaviour it had: no rate limit, tokens that never expire).
-- On an empty database (no tenant yet: `scimd` creates the default tenant right after the
-- migrations) the rows are the new defaults. An explicit setting always wins over them.
CREATE TABLE install_defaults (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO install_defaults (key, value)
    SELECT 'limits.requests_per_second', '50' WHERE NOT EXISTS (SELECT 1 FROM tenants)
    UNION ALL
    SELECT 'limits.requests_burst', '500' WHERE NOT EXISTS (SELECT 1 FROM tenants)
    UNION ALL
    SELECT 'token_expires_in', '365d' WHERE NOT EXISTS (SELECT 1 FROM tenants);

-- Per-token client-address allowlist: a JSON array of CIDR ranges ("10.0.0.0/8"); NULL
-- accepts any address, as every token did before.
ALTER TABLE tokens ADD COLUMN allowed_addresses TEXT;
-- A changed allowlist is a credentials change: cached token lookups must see it at once.
CREATE TRIGGER tokens_addresses_bump_credentials AFTER UPDATE OF allowed_addresses ON tokens
BEGIN UPDATE credentials_version SET n = n + 1; END;
