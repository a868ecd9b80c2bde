-- Emptying the trash keeps its photos restorable for `trash_grace_days`: they are marked
-- emptied, leave the trash page's list for the "recently emptied" one, and are deleted for good
-- (with their originals) once the grace period has passed.
ALTER TABLE photos ADD COLUMN emptied_at BIGINT;

-- The trash page lists photos in the trash that were not emptied yet.
DROP INDEX photos_trash;
CREATE INDEX photos_trash ON photos (owner_id, trashed_at DESC, id DESC)
    WHERE trashed_at IS NOT NULL AND emptied_at IS NULL;

-- The recently emptied list, and the purge of those whose grace period is over.
CREATE INDEX photos_emptied ON photos (owner_id, emptied_at DESC, id DESC)
    WHERE emptied_at IS NOT NULL;
CREATE INDEX photos_emptied_since ON photos (emptied_at)
    WHERE emptied_at IS NOT NULL;
