-- Tenants, tokens, SCIM resources and group membership. Every table carries tenant_id so no
-- query can be written without stating whose data it reads.

CREATE TABLE tenants (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created      TEXT NOT NULL
);

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    -- First characters of the secret, shown in listings so an admin can tell tokens apart.
    prefix        TEXT NOT NULL,
    -- SHA-256 of the whole secret; the secret itself is never stored.
    secret_hash   BLOB NOT NULL UNIQUE,
    read_only     INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL,
    expires       TEXT,
    revoked       TEXT,
    rotated       TEXT,
    replaced_by   TEXT REFERENCES tokens(id),
    last_used     TEXT,
    last_used_ip  TEXT,
    last_used_agent TEXT,
    UNIQUE (tenant_id, name)
);

-- Users and groups share one table so group membership can reference either kind with a
-- foreign key (nested groups) and cascade on delete in the same transaction.
CREATE TABLE resources (
    seq           INTEGER PRIMARY KEY,          -- insertion order: the stable default sort
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    resource_type TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,                -- userName / displayName exactly as sent
    name_key      TEXT NOT NULL,                -- the same, case-folded: uniqueness and eq filters
    external_id   TEXT,
    active        INTEGER,
    password_hash TEXT,
    version       INTEGER NOT NULL,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    doc           TEXT NOT NULL                 -- canonical SCIM JSON without id/meta/schemas
);
CREATE UNIQUE INDEX resources_id ON resources (tenant_id, resource_type, id);
CREATE UNIQUE INDEX resources_name ON resources (tenant_id, resource_type, name_key);
CREATE INDEX resources_external_id ON resources (tenant_id, resource_type, external_id);

-- emails.value, case-folded, so `emails.value eq` and `emails[type eq "work"].value eq` are
-- index lookups rather than a scan of every document.
CREATE TABLE resource_emails (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    resource_seq INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    value_key    TEXT NOT NULL,
    type_key     TEXT
);
CREATE INDEX resource_emails_value ON resource_emails (tenant_id, value_key);
CREATE INDEX resource_emails_resource ON resource_emails (resource_seq);

-- A rowid table so members list in the order they were added.
CREATE TABLE group_members (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    group_seq  INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    member_seq INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    UNIQUE (group_seq, member_seq)
);
CREATE INDEX group_members_member ON group_members (member_seq, group_seq);
