-- Gallery image versions taken out of `latest` by `image-refresh revoke`. A row is
-- written before Azure is asked (done_at NULL) and completed once every region of the
-- version is excluded, so a revoke killed half-way is finished by the next process.
-- Revoked versions are never deleted by pruning and never promoted again.
CREATE TABLE revocations (
    -- Resource ID of the gallery image definition, lower case (ARM ids are case-insensitive).
    gallery_image_id TEXT NOT NULL CHECK (gallery_image_id <> ''),
    version          TEXT NOT NULL CHECK (version <> ''),
    image            TEXT NOT NULL CHECK (image <> ''),
    reason           TEXT NOT NULL CHECK (reason <> ''),
    -- Who asked: the login name of the person who ran the command, or --by.
    revoked_by       TEXT NOT NULL CHECK (revoked_by <> ''),
    requested_at     TEXT NOT NULL,
    done_at          TEXT,
    PRIMARY KEY (gallery_image_id, version)
) STRICT;

CREATE INDEX revocations_image ON revocations (image, requested_at);
