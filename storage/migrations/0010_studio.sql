-- The studio (bot/studio/): a tool's results that are not tracks (stems, a WAV, a video, lyrics, an LRC
-- file) are rows of their own, delivered once per task by the deliver work item 'deliver:files:<task>'.
CREATE TABLE task_files (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id        INTEGER NOT NULL REFERENCES tasks(id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,     -- the file name people see (Vocals.mp3), or a text's label
    media          TEXT NOT NULL,     -- audio | document | video | photo | text: how it is sent
    url            TEXT,              -- fetched at delivery
    body           TEXT,              -- the content itself, for texts and files the bot writes (LRC)
    title          TEXT NOT NULL DEFAULT '',
    telegram_message_id INTEGER,
    sent_at        REAL,
    UNIQUE (task_id, name)
);

-- Personas made from a person's tracks: "in the voice of <name>" in /generate and /custom.
CREATE TABLE personas (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL,
    persona_id     TEXT NOT NULL UNIQUE,  -- the provider's personaId
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    track_id       INTEGER REFERENCES tracks(id),
    task_id        INTEGER REFERENCES tasks(id),  -- the persona task that made it
    created_at     REAL NOT NULL
);
CREATE INDEX personas_by_user ON personas(user_id, id);
