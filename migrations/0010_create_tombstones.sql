-- Deletion safety (issue 25). A deleted user or group moves here in the transaction that
-- deletes it, so `resources` stays live-only: SCIM, the events snapshot and LDAP need no
-- filter to stay blind to it (404, and its userName / displayName is free to re-create).
-- It keeps its id, document, password hash and memberships for `retention` (a tenant
-- setting), then the pruner removes it. Memberships are kept as ids (JSON arrays), not as
-- `group_members` rows: a restored resource gets a new `seq`, and a 50,000-member group is
-- one row of ids, written in one statement, instead of 50,000 rows.
CREATE TABLE tombstones (
    id            TEXT NOT NULL,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    resource_type TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    name          TEXT NOT NULL,                -- userName / displayName, for listings
    external_id   TEXT,
    password_hash TEXT,
    version       INTEGER NOT NULL,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    doc           TEXT NOT NULL,
    member_of     TEXT NOT NULL,                -- JSON array: ids of the groups it was directly in
    members       TEXT NOT NULL,                -- JSON array: a group's member ids ([] for a user)
    deleted_at    TEXT NOT NULL,
    deleted_by    TEXT,                         -- JSON: the token and IdP, or the admin
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX tombstones_by_time ON tombstones (tenant_id, deleted_at);

-- What remains of an erased person (a privacy request): that an erase happened, of which id,
-- by whom and when. Nothing of the resource's attributes.
CREATE TABLE erasures (
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    erased_at     TEXT NOT NULL,
    erased_by     TEXT NOT NULL
);
CREATE INDEX erasures_by_tenant ON erasures (tenant_id, erased_at);

-- Mass-change alarms: more deletions and deactivations in a tenant within its window than its
-- threshold. The burst is the tenant's events from `first_seq` through `last_seq` (the watcher
-- extends it while the burst goes on); reverting it restores and reactivates what those events
-- removed. `state`: open, reverted, dismissed.
CREATE TABLE alarms (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    raised_at     TEXT NOT NULL,
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    last_at       TEXT NOT NULL,
    deletions     INTEGER NOT NULL,
    deactivations INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'reverted', 'dismissed')),
    resolved_at   TEXT,
    resolved_by   TEXT
);
CREATE INDEX alarms_by_tenant ON alarms (tenant_id, state, id);
