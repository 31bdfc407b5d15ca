-- Issue 21: what scimd normalised in each request's IdP dialect (`quirks`: the ids of
-- `scim::quirks::Quirk`, comma-separated) and the attributes no schema defines that it ignored
-- (`ignored_attributes`: a JSON array of the names as sent). NULL when none.
ALTER TABLE request_log ADD COLUMN quirks TEXT;
ALTER TABLE request_log ADD COLUMN ignored_attributes TEXT;

-- The quirk profile of each token: how many requests needed each quirk, first and last seen.
-- Written by the request log's writer with the entries of a batch; kept when entries are
-- pruned, so a profile outlives the log's retention.
CREATE TABLE token_quirks (
    tenant_id  INTEGER NOT NULL,
    token_id   TEXT NOT NULL,
    quirk      TEXT NOT NULL,
    requests   INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (token_id, quirk)
) WITHOUT ROWID;

-- The undeclared attributes each token sent, likewise; at most a bounded number of names per
-- token (see `store::request_log::MAX_IGNORED_NAMES_PER_TOKEN`).
CREATE TABLE token_ignored_attributes (
    tenant_id  INTEGER NOT NULL,
    token_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    requests   INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (token_id, name)
) WITHOUT ROWID;
