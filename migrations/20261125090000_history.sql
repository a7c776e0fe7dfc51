-- The history of image-refresh: check cycles, builds, and small per-image state.
--
-- Written for people reading it with the sqlite3 shell as much as for the program:
-- timestamps are ISO-8601 UTC text ('2026-11-25T09:00:00Z', whole seconds, so they
-- sort and compare as text), enumerations are lowercase text guarded by CHECK
-- constraints, lists are JSON arrays. STRICT tables refuse values of the wrong type.

-- Images the program knows about. A row appears the first time an image is checked
-- or built and stays after the image leaves the catalog, so its history keeps a home.
CREATE TABLE images (
    name                 TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    -- 0 when the program stopped building the image by itself (too many failures);
    -- the catalog's own `enabled` setting is not stored here.
    enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason      TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    last_check_at        TEXT,
    last_success_at      TEXT,
    last_failure_at      TEXT,
    CHECK (enabled = 0 OR disabled_reason IS NULL)
) STRICT;

-- One row per check: resolve what Azure offers, decide what is stale.
CREATE TABLE check_cycles (
    id           INTEGER NOT NULL PRIMARY KEY,
    started_at   TEXT    NOT NULL,
    -- NULL while the check runs (or if the process died during it).
    finished_at  TEXT,
    trigger      TEXT    NOT NULL CHECK (trigger IN ('schedule', 'startup', 'cli', 'reload')),
    -- Filled in when the check finishes successfully.
    images_total INTEGER CHECK (images_total >= 0),
    images_stale INTEGER CHECK (images_stale >= 0 AND images_stale <= images_total),
    -- Why the check failed; NULL when it succeeded or still runs.
    error        TEXT,
    CHECK (error IS NULL OR finished_at IS NOT NULL)
) STRICT;

-- The exact source versions a check resolved: one row per unique marketplace
-- (location, publisher, offer, sku) or gallery image definition.
CREATE TABLE resolved_versions (
    id               INTEGER NOT NULL PRIMARY KEY,
    check_id         INTEGER NOT NULL REFERENCES check_cycles (id),
    source           TEXT    NOT NULL CHECK (source IN ('marketplace', 'gallery')),
    location         TEXT,
    publisher        TEXT,
    offer            TEXT,
    sku              TEXT,
    -- Resource ID of the gallery image definition.
    gallery_image_id TEXT,
    version          TEXT    NOT NULL CHECK (version <> ''),
    resolved_at      TEXT    NOT NULL,
    CHECK (
        (source = 'marketplace'
            AND location IS NOT NULL AND publisher IS NOT NULL
            AND offer IS NOT NULL AND sku IS NOT NULL
            AND gallery_image_id IS NULL)
        OR (source = 'gallery'
            AND gallery_image_id IS NOT NULL
            AND location IS NULL AND publisher IS NULL AND offer IS NULL AND sku IS NULL)
    )
) STRICT;

CREATE UNIQUE INDEX resolved_versions_key ON resolved_versions (
    check_id, source, ifnull(location, ''), ifnull(publisher, ''), ifnull(offer, ''),
    ifnull(sku, ''), ifnull(gallery_image_id, '')
);

-- What a check decided for each image, and why in words.
CREATE TABLE check_decisions (
    check_id       INTEGER NOT NULL REFERENCES check_cycles (id),
    image          TEXT    NOT NULL REFERENCES images (name) CHECK (image <> ''),
    decision       TEXT    NOT NULL CHECK (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure', 'in_progress', 'source_unavailable',
                       'up_to_date', 'disabled')),
    -- Derived, so it can never disagree with the decision.
    stale          INTEGER NOT NULL GENERATED ALWAYS AS (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure')) VIRTUAL,
    reason         TEXT    NOT NULL,
    -- NULL when the source has no version (managed image) or was not resolved.
    source_version TEXT,
    recipe_hash    TEXT    NOT NULL,
    PRIMARY KEY (check_id, image)
) STRICT;

CREATE INDEX check_decisions_image ON check_decisions (image, check_id);

-- One row per build attempt; its `state` is where the build is now.
CREATE TABLE builds (
    id             TEXT    NOT NULL PRIMARY KEY,
    image          TEXT    NOT NULL REFERENCES images (name),
    -- The check that asked for the build; NULL when a person asked directly.
    check_id       INTEGER REFERENCES check_cycles (id),
    decision       TEXT    CHECK (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure', 'in_progress', 'source_unavailable',
                       'up_to_date', 'disabled')),
    reason         TEXT    NOT NULL,
    recipe_hash    TEXT    NOT NULL,
    source_version TEXT    NOT NULL,
    template_name  TEXT,
    state          TEXT    NOT NULL CHECK (state IN (
                       'planned', 'template_created', 'run_requested', 'running', 'canceling',
                       'succeeded', 'partially_succeeded', 'failed', 'canceled', 'timed_out')),
    -- AIB's runSubState while the run is going.
    run_sub_state  TEXT    CHECK (run_sub_state IN (
                       'queued', 'building', 'customizing', 'optimizing', 'validating',
                       'distributing')),
    -- Whether the image template still has to be deleted in Azure.
    cleanup        TEXT    NOT NULL DEFAULT 'pending' CHECK (cleanup IN ('pending', 'done', 'kept')),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    run_started_at TEXT,
    finished_at    TEXT,
    -- Resource IDs of what the build produced, as a JSON array of strings.
    artifact_ids   TEXT    NOT NULL DEFAULT '[]'
                           CHECK (json_valid(artifact_ids) AND json_type(artifact_ids) = 'array'),
    error_code     TEXT,
    error_message  TEXT
) STRICT;

CREATE INDEX builds_image_created ON builds (image, created_at);
CREATE INDEX builds_created ON builds (created_at);

-- Append-only: every change of a build's state or cleanup, in order.
CREATE TABLE build_events (
    id            INTEGER NOT NULL PRIMARY KEY,
    build_id      TEXT    NOT NULL REFERENCES builds (id),
    at            TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    run_sub_state TEXT,
    cleanup       TEXT    NOT NULL,
    detail        TEXT    NOT NULL
) STRICT;

CREATE INDEX build_events_build ON build_events (build_id, id);

-- Who may build an image right now; a lease past `expires_at` may be taken over.
CREATE TABLE image_leases (
    image       TEXT NOT NULL PRIMARY KEY CHECK (image <> ''),
    -- "hostname:pid:uuid" of the process holding the lease.
    holder      TEXT NOT NULL CHECK (holder <> ''),
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
