-- The favourites page: one owner's visible favourites in timeline order, index-only.
CREATE INDEX photos_favourites
    ON photos (owner_id, taken_at DESC, id DESC, width, height, is_favourite, thumbhash, file_name,
               status, trashed_at)
    WHERE is_favourite = 1 AND status = 'ready' AND trashed_at IS NULL;
