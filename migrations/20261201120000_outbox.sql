-- Notifications: every event that must reach a person is written here in the same
-- transaction as the state change it reports, then delivered to each sink at least once
-- (deliveries), across restarts. `id` is the CloudEvents id: a stable idempotency key.
CREATE TABLE outbox (
    id         TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    created_at TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN (
                   'build_succeeded', 'build_failed', 'image_disabled', 'check_failed',
                   'source_not_found', 'new_base_version', 'notify_test')),
    -- NULL for events about no one image (a failed check, a test).
    image      TEXT,
    -- What the event says, as a JSON object (never a secret: no URLs of sinks).
    data       TEXT NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object')
) STRICT;

CREATE INDEX outbox_created ON outbox (created_at);

-- One row per event and sink, once the sender has looked at the pair. A sink is named
-- in the catalog; a sink added later sees only events younger than its give_up_after.
CREATE TABLE deliveries (
    event_id        TEXT    NOT NULL REFERENCES outbox (id),
    sink            TEXT    NOT NULL CHECK (sink <> ''),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'given_up', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT    NOT NULL,
    -- The last failure, without the sink's URL.
    last_error      TEXT,
    delivered_at    TEXT,
    PRIMARY KEY (event_id, sink),
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
) STRICT;

CREATE INDEX deliveries_due ON deliveries (sink, state, next_attempt_at);
