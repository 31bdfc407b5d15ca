-- The LDAP front-end (src/ldap/): service accounts that bind to a tenant's directory, and the
-- POSIX uid/gid numbers of users and groups.

-- A service account binds as cn=<name>,ou=services,<tenant base DN> with a secret issued once,
-- stored only as SHA-256 (like tokens: the secret is random, so a slow hash adds nothing).
CREATE TABLE ldap_accounts (
    id          TEXT PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    last_used   TEXT,
    UNIQUE (tenant_id, name_key)
);

-- uidNumber (users) / gidNumber (groups), keyed by the SCIM id, which never changes. Numbers
-- are allocated by a trigger in the transaction that creates the resource, from 10000 up per
-- tenant and kind, and never reused: a row outlives its resource, so a deleted user's number
-- never passes to a new user who would then own the old one's files. The numbers live in the
-- database, so restarts and `scimd backup` keep them; a resource restored under its old id
-- keeps its old number (INSERT OR IGNORE).
CREATE TABLE ldap_posix_ids (
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    number        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, resource_type, id),
    UNIQUE (tenant_id, resource_type, number)
);

INSERT INTO ldap_posix_ids (tenant_id, resource_type, id, number)
SELECT tenant_id, resource_type, id,
       9999 + ROW_NUMBER() OVER (PARTITION BY tenant_id, resource_type ORDER BY seq)
FROM resources;

CREATE TRIGGER ldap_posix_id_allocate AFTER INSERT ON resources
BEGIN
    INSERT OR IGNORE INTO ldap_posix_ids (tenant_id, resource_type, id, number)
    VALUES (NEW.tenant_id, NEW.resource_type, NEW.id,
            COALESCE((SELECT MAX(number) FROM ldap_posix_ids
                      WHERE tenant_id = NEW.tenant_id AND resource_type = NEW.resource_type),
                     9999) + 1);
END;
