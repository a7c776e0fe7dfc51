-- Staged promotion (issue 15): a gallery image version published excluded from
-- `latest`, then made latest ring by ring. One row per version and gallery image
-- definition, one per ring, written in one transaction when the build succeeds.
-- The ring plan is the catalog's at that moment: a catalog changed later applies
-- to the next version, not to one half-way through its rollout.
CREATE TABLE promotions (
    -- Resource ID of the gallery image definition, lower case (ARM ids are case-insensitive).
    gallery_image_id TEXT NOT NULL CHECK (gallery_image_id <> ''),
    version          TEXT NOT NULL CHECK (version <> ''),
    image            TEXT NOT NULL CHECK (image <> ''),
    -- The build that published the version.
    build_id         TEXT NOT NULL,
    staged_at        TEXT NOT NULL,
    -- Why the promotion ended before its last ring (a revoke), and when.
    stopped_reason   TEXT,
    stopped_at       TEXT,
    PRIMARY KEY (gallery_image_id, version)
) STRICT;

CREATE INDEX promotions_image ON promotions (image, staged_at);

-- A ring's `requested_at` is written before Azure is asked and `done_at` once Azure
-- has applied it; a promotion killed in between is finished by the next process,
-- which first reads what Azure already has, so nothing is asked twice.
CREATE TABLE promotion_rings (
    gallery_image_id TEXT NOT NULL,
    version          TEXT NOT NULL,
    ring             INTEGER NOT NULL CHECK (ring >= 1),
    -- JSON array of region names, as the catalog spells them.
    regions          TEXT NOT NULL,
    -- Delay after the ring before (after staging, for the first); NULL: by hand only.
    after_secs       INTEGER CHECK (after_secs >= 0),
    -- When the ring moves on its own; set once the ring before it is done.
    due_at           TEXT,
    requested_at     TEXT,
    -- "schedule", or who ran `image-refresh promote`.
    requested_by     TEXT,
    done_at          TEXT,
    -- Why the last attempt to move the ring failed; NULL once it moved. A failure is
    -- notified when this goes from NULL to a message, not on every retry.
    last_error       TEXT,
    PRIMARY KEY (gallery_image_id, version, ring),
    FOREIGN KEY (gallery_image_id, version) REFERENCES promotions ON DELETE CASCADE
) STRICT;

-- Three notices for people: a ring moved (a rollout reached more VMs), a ring could not
-- move, a version was revoked. SQLite cannot change the outbox's CHECK in place, so the
-- outbox is rebuilt, and deliveries with it (they refer to it): each copy is made beside
-- the old table and renamed after the old one is dropped, which keeps every foreign key
-- satisfied at every step.
CREATE TABLE outbox_v2 (
    id         TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    created_at TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN (
                   'build_succeeded', 'build_failed', 'image_disabled', 'check_failed',
                   'source_not_found', 'new_base_version', 'notify_test',
                   'version_promoted', 'promotion_failed', 'version_revoked')),
    -- NULL for events about no one image (a failed check, a test).
    image      TEXT,
    -- What the event says, as a JSON object (never a secret: no URLs of sinks).
    data       TEXT NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object')
) STRICT;
INSERT INTO outbox_v2 (id, created_at, kind, image, data)
    SELECT id, created_at, kind, image, data FROM outbox;

CREATE TABLE deliveries_v2 (
    event_id        TEXT    NOT NULL REFERENCES outbox_v2 (id),
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
INSERT INTO deliveries_v2 (event_id, sink, state, attempts, next_attempt_at, last_error,
                           delivered_at)
    SELECT event_id, sink, state, attempts, next_attempt_at, last_error, delivered_at
    FROM deliveries;

DROP TABLE deliveries;
DROP TABLE outbox;
-- Renaming rewrites deliveries_v2's reference to the new name.
ALTER TABLE outbox_v2 RENAME TO outbox;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX outbox_created ON outbox (created_at);
CREATE INDEX deliveries_due ON deliveries (sink, state, next_attempt_at);
