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
    PRIMARY KEY (gallery_image_id, version, ring),
    FOREIGN KEY (gallery_image_id, version) REFERENCES promotions ON DELETE CASCADE
) STRICT;
