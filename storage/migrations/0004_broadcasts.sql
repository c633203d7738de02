-- Admins' /broadcast: the text and where it stands, and one row per recipient with its outcome. Each
-- pending recipient also has a work item of kind 'broadcast' (bot/ops/broadcast.py), so a broadcast
-- goes on after a restart where it stopped.
CREATE TABLE broadcasts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id       INTEGER NOT NULL,
    chat_id        INTEGER NOT NULL,  -- where the admin asked for it: the final count goes there
    text           TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'draft',  -- draft | sending | done | cancelled
    created_at     REAL NOT NULL,
    started_at     REAL,
    finished_at    REAL
);

CREATE TABLE broadcast_recipients (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id   INTEGER NOT NULL REFERENCES broadcasts(id),
    chat_id        INTEGER NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | blocked | failed
    message_id     INTEGER,
    UNIQUE (broadcast_id, chat_id)
);
CREATE INDEX broadcast_recipients_pending ON broadcast_recipients(broadcast_id) WHERE state = 'pending';
