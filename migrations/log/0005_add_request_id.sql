-- The request's id, as the client sent it in X-Request-Id or as scimd made it, and as the
-- response's X-Request-Id says: an admin matches the IdP's log line to scimd's entry by it.
-- Indexed like the resource id (0003): by block of 4,096 entries first, so that a batch of
-- random ids touches the newest block's pages only, then the id's first 8 characters.
ALTER TABLE request_log ADD COLUMN request_id TEXT;
CREATE INDEX request_log_request_id ON request_log (id >> 12, substr(request_id, 1, 8));
