-- Secrets every instance of an installation shares, made once by the first that needs them:
-- the key that signs media URLs.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
