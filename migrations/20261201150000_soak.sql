-- Soak: when each source version was first seen, so a new base version is built only
-- once it has been known for the image's min_base_age; until then the decision is
-- 'soaking'. check_decisions is rebuilt for the new word (SQLite cannot alter a CHECK).
CREATE TABLE source_versions (
    -- The folded source key: 'marketplace:<location>:<publisher>:<offer>:<sku>' or
    -- 'gallery:<image definition id>', lower case.
    source        TEXT NOT NULL CHECK (source <> ''),
    version       TEXT NOT NULL CHECK (version <> ''),
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (source, version)
) STRICT;

-- What the checks recorded so far counts as seen then.
INSERT INTO source_versions (source, version, first_seen_at)
    SELECT CASE source
               WHEN 'marketplace' THEN lower('marketplace:' || location || ':' || publisher
                                             || ':' || offer || ':' || sku)
               ELSE lower('gallery:' || gallery_image_id)
           END,
           version, min(resolved_at)
    FROM resolved_versions GROUP BY 1, 2;

CREATE TABLE check_decisions_v3 (
    check_id       INTEGER NOT NULL REFERENCES check_cycles (id),
    image          TEXT    NOT NULL REFERENCES images (name) CHECK (image <> ''),
    decision       TEXT    NOT NULL CHECK (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure', 'in_progress', 'soaking', 'source_unavailable',
                       'source_not_found', 'up_to_date', 'disabled')),
    stale          INTEGER NOT NULL GENERATED ALWAYS AS (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure')) VIRTUAL,
    reason         TEXT    NOT NULL,
    source_version TEXT,
    recipe_hash    TEXT    NOT NULL,
    PRIMARY KEY (check_id, image)
) STRICT;

INSERT INTO check_decisions_v3 (check_id, image, decision, reason, source_version, recipe_hash)
    SELECT check_id, image, decision, reason, source_version, recipe_hash FROM check_decisions;
DROP TABLE check_decisions;
ALTER TABLE check_decisions_v3 RENAME TO check_decisions;
CREATE INDEX check_decisions_image ON check_decisions (image, check_id);
