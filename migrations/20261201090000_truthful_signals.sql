-- A source Azure says does not exist is a decision of its own ('source_not_found'), not an
-- outage: SQLite cannot change a CHECK constraint in place, so check_decisions is rebuilt
-- with the longer list. Nothing refers to it, so the copy is all there is to it.
CREATE TABLE check_decisions_v2 (
    check_id       INTEGER NOT NULL REFERENCES check_cycles (id),
    image          TEXT    NOT NULL REFERENCES images (name) CHECK (image <> ''),
    decision       TEXT    NOT NULL CHECK (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure', 'in_progress', 'source_unavailable',
                       'source_not_found', 'up_to_date', 'disabled')),
    stale          INTEGER NOT NULL GENERATED ALWAYS AS (decision IN (
                       'never_built', 'new_base_version', 'recipe_changed', 'too_old',
                       'retry_after_failure')) VIRTUAL,
    reason         TEXT    NOT NULL,
    source_version TEXT,
    recipe_hash    TEXT    NOT NULL,
    PRIMARY KEY (check_id, image)
) STRICT;

INSERT INTO check_decisions_v2 (check_id, image, decision, reason, source_version, recipe_hash)
    SELECT check_id, image, decision, reason, source_version, recipe_hash FROM check_decisions;
DROP TABLE check_decisions;
ALTER TABLE check_decisions_v2 RENAME TO check_decisions;
CREATE INDEX check_decisions_image ON check_decisions (image, check_id);

-- Where a failed build's customization.log is (AIB names it in the run's message), so
-- `history` and `logs` can show it without parsing error text.
ALTER TABLE builds ADD COLUMN log_url TEXT;

-- A failed build's template (and its staging resource group, with the log) is kept until
-- this time (cleanup = 'kept'); NULL with 'kept' means until someone deletes it.
ALTER TABLE builds ADD COLUMN keep_until TEXT;
