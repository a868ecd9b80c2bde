-- The timeline reads only visible photos, a month at a time. Rows of one month lie scattered
-- over the table (photos arrive in any order), so fetching them row by row costs a random
-- page read each. This partial index holds exactly the visible photos, in timeline order,
-- with every column a timeline query reads (the filter columns too, or SQLite visits the
-- table to re-check them): a segment is a contiguous index-only scan,
-- and skipping to an offset never visits the table.
DROP INDEX photos_owner_taken;
CREATE INDEX photos_timeline
    ON photos (owner_id, taken_at DESC, id DESC, width, height, is_favourite, thumbhash, file_name,
               status, trashed_at)
    WHERE status = 'ready' AND trashed_at IS NULL;
