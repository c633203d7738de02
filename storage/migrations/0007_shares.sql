-- Share links to a track (`t.me/<bot>?start=s_<token>`, the token naming a row here). The owner can
-- revoke one; a link also dies with its track. No foreign key on track_id: /forget deletes the
-- person's tracks, and a leftover link must then just stop working, not block the deletion.
CREATE TABLE shares (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    track_id       INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    revoked_at     REAL,
    opened         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX shares_by_track ON shares(track_id) WHERE revoked_at IS NULL;
CREATE INDEX shares_by_user ON shares(user_id);
