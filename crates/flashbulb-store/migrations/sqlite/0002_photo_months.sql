-- Month buckets kept up to date by triggers, so the timeline reads a few hundred rows
-- instead of counting millions. A month is year * 12 + (month - 1), in UTC.

CREATE TABLE photo_months (
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month       INTEGER NOT NULL,
    photo_count INTEGER NOT NULL CHECK (photo_count >= 0),
    PRIMARY KEY (owner_id, month)
) WITHOUT ROWID;

INSERT INTO photo_months (owner_id, month, photo_count)
SELECT owner_id,
       CAST(strftime('%Y', taken_at, 'unixepoch') AS INTEGER) * 12
         + CAST(strftime('%m', taken_at, 'unixepoch') AS INTEGER) - 1,
       count(*)
FROM photos
WHERE status = 'ready' AND trashed_at IS NULL
GROUP BY 1, 2;

CREATE TRIGGER photo_months_after_insert AFTER INSERT ON photos
WHEN NEW.status = 'ready' AND NEW.trashed_at IS NULL
BEGIN
    INSERT INTO photo_months (owner_id, month, photo_count)
    VALUES (NEW.owner_id,
            CAST(strftime('%Y', NEW.taken_at, 'unixepoch') AS INTEGER) * 12
              + CAST(strftime('%m', NEW.taken_at, 'unixepoch') AS INTEGER) - 1,
            1)
    ON CONFLICT (owner_id, month) DO UPDATE SET photo_count = photo_count + 1;
END;

CREATE TRIGGER photo_months_after_delete AFTER DELETE ON photos
WHEN OLD.status = 'ready' AND OLD.trashed_at IS NULL
BEGIN
    UPDATE photo_months SET photo_count = photo_count - 1
    WHERE owner_id = OLD.owner_id
      AND month = CAST(strftime('%Y', OLD.taken_at, 'unixepoch') AS INTEGER) * 12
                  + CAST(strftime('%m', OLD.taken_at, 'unixepoch') AS INTEGER) - 1;
    DELETE FROM photo_months WHERE owner_id = OLD.owner_id AND photo_count = 0;
END;

CREATE TRIGGER photo_months_after_update AFTER UPDATE OF owner_id, taken_at, status, trashed_at ON photos
WHEN (OLD.status = 'ready' AND OLD.trashed_at IS NULL) OR (NEW.status = 'ready' AND NEW.trashed_at IS NULL)
BEGIN
    UPDATE photo_months SET photo_count = photo_count - 1
    WHERE OLD.status = 'ready' AND OLD.trashed_at IS NULL
      AND owner_id = OLD.owner_id
      AND month = CAST(strftime('%Y', OLD.taken_at, 'unixepoch') AS INTEGER) * 12
                  + CAST(strftime('%m', OLD.taken_at, 'unixepoch') AS INTEGER) - 1;
    INSERT INTO photo_months (owner_id, month, photo_count)
    SELECT NEW.owner_id,
           CAST(strftime('%Y', NEW.taken_at, 'unixepoch') AS INTEGER) * 12
             + CAST(strftime('%m', NEW.taken_at, 'unixepoch') AS INTEGER) - 1,
           1
    WHERE NEW.status = 'ready' AND NEW.trashed_at IS NULL
    ON CONFLICT (owner_id, month) DO UPDATE SET photo_count = photo_count + 1;
    DELETE FROM photo_months WHERE owner_id = OLD.owner_id AND photo_count = 0;
END;
