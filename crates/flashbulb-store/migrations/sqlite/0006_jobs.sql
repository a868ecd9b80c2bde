-- The durable job queue: work that outlives a request (derivatives of new photos), leased by
-- workers, retried with backoff, kept with its error when it finally fails. A finished job's
-- row is deleted: the photo it worked on carries the result.

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,
    photo_id     INTEGER REFERENCES photos (id) ON DELETE CASCADE,
    -- Higher first: a photo someone is waiting for beats a background import.
    priority     INTEGER NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    -- Not before this time (Unix seconds): backoff after a failure.
    run_at       INTEGER NOT NULL,
    -- While running: the worker holding the job, and when its lease runs out. A job whose
    -- lease ran out (its worker died) is taken again.
    leased_by    TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);

-- The next job of a kind: highest priority, then oldest due.
CREATE INDEX jobs_next ON jobs (kind, priority DESC, run_at, id)
    WHERE state IN ('queued', 'running');
CREATE INDEX jobs_photo ON jobs (photo_id);

-- A photo's derivatives live at URLs named after its content: `media_key` is the first 8 bytes
-- of its SHA-256, set when its derivatives are made (NULL until then). The grid's covering
-- indexes carry it, so a segment of 500 photos with thumbnails stays an index-only scan.
ALTER TABLE photos ADD COLUMN media_key BLOB CHECK (media_key IS NULL OR length(media_key) = 8);

DROP INDEX photos_timeline;
CREATE INDEX photos_timeline
    ON photos (owner_id, taken_at DESC, id DESC, width, height, is_favourite, thumbhash, file_name,
               media_key, status, trashed_at)
    WHERE status = 'ready' AND trashed_at IS NULL;

DROP INDEX photos_favourites;
CREATE INDEX photos_favourites
    ON photos (owner_id, taken_at DESC, id DESC, width, height, is_favourite, thumbhash, file_name,
               media_key, status, trashed_at)
    WHERE is_favourite = 1 AND status = 'ready' AND trashed_at IS NULL;
