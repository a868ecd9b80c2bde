-- `taken_at` is the clock of the place where a photo was taken, read as if it were UTC: the
-- timeline and search group photos by the day they were taken there. When the camera also
-- recorded how far that clock was from UTC (EXIF OffsetTimeOriginal), it is kept here, in
-- minutes east; NULL when it did not say.
ALTER TABLE photos ADD COLUMN taken_offset_minutes INTEGER
    CHECK (taken_offset_minutes BETWEEN -1440 AND 1440);
