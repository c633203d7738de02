-- A person's row keeps only their private chat: the chat of a task asked in a group is the task's own
-- (tasks.chat_id), so talking in a group never redirects that person's private songs there. NULL: the
-- person has only written in groups. SQLite cannot drop NOT NULL in place, so the table is rebuilt.
CREATE TABLE people_new (
    user_id        INTEGER PRIMARY KEY,
    chat_id        INTEGER,          -- their private chat with the bot (equal to user_id), or NULL
    first_name     TEXT NOT NULL DEFAULT '',
    username       TEXT,
    language       TEXT,             -- from Telegram's language_code
    language_override TEXT,          -- chosen with /language
    access         TEXT,             -- 'allowed' | 'blocked' | NULL (variables decide)
    bot_blocked    INTEGER NOT NULL DEFAULT 0,  -- the person blocked the bot (Telegram answered 403)
    created_at     REAL NOT NULL,
    last_seen_at   REAL NOT NULL
);
-- Group and channel ids are negative; a row that holds one was overwritten by a group message.
INSERT INTO people_new
    SELECT user_id, CASE WHEN chat_id > 0 THEN chat_id ELSE NULL END, first_name, username, language,
        language_override, access, bot_blocked, created_at, last_seen_at
    FROM people;
DROP TABLE people;
ALTER TABLE people_new RENAME TO people;
CREATE INDEX people_by_chat ON people(chat_id);

-- Groups the bot is in or was removed from (Telegram's my_chat_member updates): ids and state only, no
-- titles and no members.
CREATE TABLE chats (
    chat_id        INTEGER PRIMARY KEY,
    type           TEXT NOT NULL,    -- group | supergroup | channel | private
    removed        INTEGER NOT NULL DEFAULT 0,  -- the bot was removed (left/kicked) or blocked
    updated_at     REAL NOT NULL
);
