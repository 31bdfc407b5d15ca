-- Admin accounts and their sessions, plus the end of a rotated token's overlap.
--
-- Documented exception to "every table carries tenant_id": admin_users and admin_sessions are
-- global. An admin runs the server (creates tenants, issues every tenant's tokens) rather than
-- belonging to a tenant, so a tenant_id here would be a column every query ignores. No SCIM
-- request ever reads these tables, and every admin API call that touches tenant data names the
-- tenant explicitly in its URL (/api/tenants/{slug}/...), where the usual tenant_id scoping
-- applies.

CREATE TABLE admin_users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; the password itself is never stored.
    password_hash TEXT NOT NULL,
    created       TEXT NOT NULL,
    last_login    TEXT
);

CREATE TABLE admin_sessions (
    -- SHA-256 of the session cookie's value: a copy of the database does not log anyone in.
    id_hash    BLOB PRIMARY KEY,
    admin_id   INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    -- Echoed by the UI in X-CSRF-Token. Useless without the cookie, whose hash is all we keep.
    csrf_token TEXT NOT NULL,
    created    TEXT NOT NULL,
    expires    TEXT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- A rotated token keeps working until this moment (`rotated` records when it was rotated).
ALTER TABLE tokens ADD COLUMN overlap_until TEXT;
