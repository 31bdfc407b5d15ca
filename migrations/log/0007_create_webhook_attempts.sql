-- Each delivery attempt of a webhook (issue 23): its outcome, latency and the start of the
-- response. In the request log's file, so recording them never waits for the main writer;
-- bounded per endpoint (`webhooks.attempts_kept`) by the delivery worker.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    webhook_id  TEXT NOT NULL,
    seq         INTEGER,                           -- NULL for a test event
    event_id    TEXT NOT NULL,                     -- the webhook-id sent
    attempt     INTEGER NOT NULL,                  -- 1 for the first try of this event
    time        TEXT NOT NULL,
    status      INTEGER,                           -- NULL when there was no HTTP answer
    outcome     TEXT NOT NULL,                     -- delivered, rejected, failed
    latency_ms  INTEGER NOT NULL,
    excerpt     TEXT NOT NULL                      -- response excerpt or the network error
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
