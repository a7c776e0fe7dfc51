-- Build windows: a stale image found while its build window is closed is decided
-- 'waiting_for_window' (built when the window opens, not counted stale here: nothing is
-- built for it now). check_decisions is rebuilt for the new word (SQLite cannot alter a CHECK).
CREATE TABLE check_decisions_v4 (
    check_id       INTEGER NOT NULL REFERENCES check_cycles (id),
    image          TEXT    NOT NULL REFERENCES images (name) CHECK (image <> ''),
    decision       TEXT    NOT NULL CHECK (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure', 'in_progress', 'soaking', 'source_unavailable',
                       'source_not_found', 'up_to_date', 'disabled', 'waiting_for_window')),
    stale          INTEGER NOT NULL GENERATED ALWAYS AS (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure')) VIRTUAL,
    reason         TEXT    NOT NULL,
    source_version TEXT,
    recipe_hash    TEXT    NOT NULL,
    PRIMARY KEY (check_id, image)
) STRICT;

INSERT INTO check_decisions_v4 (check_id, image, decision, reason, source_version, recipe_hash)
    SELECT check_id, image, decision, reason, source_version, recipe_hash FROM check_decisions;
DROP TABLE check_decisions;
ALTER TABLE check_decisions_v4 RENAME TO check_decisions;
CREATE INDEX check_decisions_image ON check_decisions (image, check_id);
