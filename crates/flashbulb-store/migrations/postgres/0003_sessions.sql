-- Signed-in browsers. The cookie carries a random token; only its SHA-256 is kept, so a copy
-- of the database opens no session.
CREATE TABLE sessions (
    token_hash BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
