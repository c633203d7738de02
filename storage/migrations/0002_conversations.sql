-- Open question flows, kept across restarts by bot/telegram/persistence.py. Values are JSON, never pickle:
-- a row a later version cannot read is dropped and the person starts that question again.

-- Each ConversationHandler's state per conversation key; a conversation that ends has no row.
CREATE TABLE conversations (
    handler        TEXT NOT NULL,    -- the ConversationHandler's name
    conversation   TEXT NOT NULL,    -- its key (chat id, user id) as a JSON array
    state          TEXT NOT NULL,    -- JSON
    updated_at     REAL NOT NULL,
    PRIMARY KEY (handler, conversation)
);
CREATE INDEX conversations_by_age ON conversations(updated_at);

-- PTB's user_data per person (the open question's draft); a person with nothing open has no row.
CREATE TABLE user_data (
    user_id        INTEGER PRIMARY KEY,
    data           TEXT NOT NULL,    -- JSON
    updated_at     REAL NOT NULL
);
CREATE INDEX user_data_by_age ON user_data(updated_at);
