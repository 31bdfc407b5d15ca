-- A tenant's settings (strict mode, declared schema extensions, …) as one JSON object; keys it
-- lacks take their defaults, so later settings need no migration of their own. Changing it is
-- a change to the tenants row, which bumps credentials_version (0006): a running server sees
-- the new settings at its next request, whichever process wrote them.
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Values of the extension attributes a tenant declared unique (uniqueness server or global),
-- kept in the same transaction as the document: the UNIQUE index enforces the declaration and
-- answers `eq` filters on them without reading documents. `attribute` is the lowercased
-- `<urn>:<name>`; `value_key` the value as compared (case-folded unless caseExact).
CREATE TABLE extension_values (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    resource_seq INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
    attribute    TEXT NOT NULL,
    value_key    TEXT NOT NULL
);
CREATE UNIQUE INDEX extension_values_unique ON extension_values (tenant_id, attribute, value_key);
CREATE INDEX extension_values_resource ON extension_values (resource_seq);
