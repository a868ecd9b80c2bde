-- Users, photos and albums: the data model every later feature builds on.
-- Times are Unix seconds (UTC); hashes are raw bytes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL
);

CREATE TABLE photos (
    id            INTEGER PRIMARY KEY,
    owner_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name     TEXT    NOT NULL,
    -- When the photo was taken (EXIF), else when it was added.
    taken_at      INTEGER NOT NULL,
    width         INTEGER NOT NULL DEFAULT 0 CHECK (width >= 0),
    height        INTEGER NOT NULL DEFAULT 0 CHECK (height >= 0),
    byte_size     INTEGER NOT NULL DEFAULT 0 CHECK (byte_size >= 0),
    mime_type     TEXT,
    sha256        BLOB    NOT NULL CHECK (length(sha256) = 32),
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'ready', 'failed')),
    failure       TEXT,
    thumbhash     BLOB,
    camera_make   TEXT,
    camera_model  TEXT,
    lens          TEXT,
    focal_length_mm REAL,
    aperture      REAL,
    exposure_time TEXT,
    iso           INTEGER,
    gps_latitude  REAL,
    gps_longitude REAL,
    orientation   INTEGER NOT NULL DEFAULT 1 CHECK (orientation BETWEEN 1 AND 8),
    is_favourite  INTEGER NOT NULL DEFAULT 0 CHECK (is_favourite IN (0, 1)),
    trashed_at    INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (owner_id, sha256)
);

-- The timeline: one owner's photos, newest first, with a stable tie-break on id.
CREATE INDEX photos_owner_taken ON photos (owner_id, taken_at DESC, id DESC);

CREATE TABLE albums (
    id             INTEGER PRIMARY KEY,
    owner_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    cover_photo_id INTEGER REFERENCES photos (id) ON DELETE SET NULL,
    -- 128 random bits, hex; NULL while the album is not shared.
    share_token    TEXT    UNIQUE,
    created_at     INTEGER NOT NULL
);

CREATE INDEX albums_owner ON albums (owner_id, created_at DESC);

CREATE TABLE album_photos (
    album_id INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (album_id, photo_id)
) WITHOUT ROWID;

CREATE INDEX album_photos_photo ON album_photos (photo_id);
