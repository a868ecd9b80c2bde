-- The trash, album pages and search: each list reads through an index in its own order.

-- The trash page: one owner's trashed photos, most recently trashed first.
CREATE INDEX photos_trash ON photos (owner_id, trashed_at DESC, id DESC)
    WHERE trashed_at IS NOT NULL;

-- Search by camera or lens in timeline order; also walked value by value for the form's lists.
-- The other of the two and the filter columns ride along, so counting "this camera with that
-- lens" never visits the table.
CREATE INDEX photos_camera
    ON photos (owner_id, camera_model, taken_at DESC, id DESC, lens, status, trashed_at)
    WHERE status = 'ready' AND trashed_at IS NULL;
CREATE INDEX photos_lens
    ON photos (owner_id, lens, taken_at DESC, id DESC, camera_model, status, trashed_at)
    WHERE status = 'ready' AND trashed_at IS NULL;

-- Search by any part of a file name: a trigram full-text index over photos.file_name.
-- External content: the names live only in photos; the index holds trigrams and row ids.
CREATE VIRTUAL TABLE photo_names USING fts5 (
    file_name,
    content = 'photos',
    content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO photo_names (photo_names) VALUES ('rebuild');

CREATE TRIGGER photo_names_after_insert AFTER INSERT ON photos
BEGIN
    INSERT INTO photo_names (rowid, file_name) VALUES (NEW.id, NEW.file_name);
END;

CREATE TRIGGER photo_names_after_delete AFTER DELETE ON photos
BEGIN
    INSERT INTO photo_names (photo_names, rowid, file_name) VALUES ('delete', OLD.id, OLD.file_name);
END;

CREATE TRIGGER photo_names_after_update AFTER UPDATE OF file_name ON photos
BEGIN
    INSERT INTO photo_names (photo_names, rowid, file_name) VALUES ('delete', OLD.id, OLD.file_name);
    INSERT INTO photo_names (rowid, file_name) VALUES (NEW.id, NEW.file_name);
END;
