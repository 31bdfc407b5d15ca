-- A counter that every change to tokens or tenants bumps, in the same transaction. A server
-- caches token lookups; with `PRAGMA data_version` (which says, without I/O, that another
-- connection committed) and one read of this row it notices at its very next request that
-- another process, the CLI revoking a token say, changed credentials. Recording a token's
-- last use is not such a change.
CREATE TABLE credentials_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO credentials_version (id, n) VALUES (1, 0);

CREATE TRIGGER tokens_inserted_bump_credentials AFTER INSERT ON tokens
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER tokens_deleted_bump_credentials AFTER DELETE ON tokens
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER tokens_changed_bump_credentials
AFTER UPDATE OF id, tenant_id, name, prefix, secret_hash, read_only, expires, revoked, rotated,
    replaced_by, overlap_until ON tokens
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER tenants_inserted_bump_credentials AFTER INSERT ON tenants
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER tenants_deleted_bump_credentials AFTER DELETE ON tenants
BEGIN UPDATE credentials_version SET n = n + 1; END;
CREATE TRIGGER tenants_changed_bump_credentials AFTER UPDATE ON tenants
BEGIN UPDATE credentials_version SET n = n + 1; END;
