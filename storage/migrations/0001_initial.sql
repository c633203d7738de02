-- People who wrote to the bot, with the operator's per-person access decisions.
CREATE TABLE people (
    user_id        INTEGER PRIMARY KEY,
    chat_id        INTEGER NOT NULL,
    first_name     TEXT NOT NULL DEFAULT '',
    username       TEXT,
    language       TEXT,             -- from Telegram's language_code
    language_override TEXT,          -- chosen with /language
    access         TEXT,             -- 'allowed' | 'blocked' | NULL (variables decide)
    bot_blocked    INTEGER NOT NULL DEFAULT 0,  -- the person blocked the bot (Telegram answered 403)
    created_at     REAL NOT NULL,
    last_seen_at   REAL NOT NULL
);

-- Files people sent to the bot, kept under DATA_DIR until their task ends or retention passes.
CREATE TABLE uploads (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL,
    chat_id        INTEGER NOT NULL,
    path           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    mime_type      TEXT NOT NULL,
    size           INTEGER NOT NULL,
    duration       REAL NOT NULL,
    sha256         TEXT NOT NULL,
    telegram_file_id TEXT,
    created_at     REAL NOT NULL,
    deleted_at     REAL
);

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL,
    chat_id        INTEGER NOT NULL,
    kind           TEXT NOT NULL,    -- generate | custom | extend | upload_cover | upload_extend | add_vocals | add_instrumental
    params         TEXT NOT NULL,    -- the validated provider request as JSON, without callBackUrl
    model          TEXT,
    upload_id      INTEGER REFERENCES uploads(id),
    provider_task_id TEXT UNIQUE,
    stage          TEXT NOT NULL DEFAULT 'queued',
    progress_message_id INTEGER,
    progress_text  TEXT,             -- what the progress message shows now, to skip edits that change nothing
    stream_url     TEXT,
    error_code     INTEGER,
    error_text     TEXT,
    submit_started_at REAL,          -- set before the submit request leaves; see TaskService.resume
    created_at     REAL NOT NULL,
    submitted_at   REAL,
    text_at        REAL,
    first_at       REAL,
    finished_at    REAL,
    last_event_at  REAL NOT NULL
);
CREATE INDEX tasks_by_user ON tasks(user_id, created_at);
CREATE INDEX tasks_unfinished ON tasks(stage) WHERE stage NOT IN ('complete', 'failed');

CREATE TABLE tracks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id        INTEGER NOT NULL REFERENCES tasks(id),
    position       INTEGER NOT NULL,
    audio_id       TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '',
    prompt         TEXT NOT NULL DEFAULT '',
    model_name     TEXT NOT NULL DEFAULT '',
    duration       REAL,
    audio_url      TEXT,
    stream_url     TEXT,
    image_url      TEXT,
    telegram_file_id TEXT,
    telegram_message_id INTEGER,
    sent_at        REAL,
    UNIQUE (task_id, audio_id)
);
CREATE INDEX tracks_by_audio_id ON tracks(audio_id);

-- Every provider event (callback or poll result) exactly as received, stored before it is acknowledged.
CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id        INTEGER NOT NULL REFERENCES tasks(id),
    source         TEXT NOT NULL,    -- callback | poll
    stage          TEXT NOT NULL,    -- the stage the event reports
    payload        TEXT NOT NULL,
    received_at    REAL NOT NULL,
    applied_at     REAL
);
CREATE INDEX events_unapplied ON events(id) WHERE applied_at IS NULL;
CREATE INDEX events_by_time ON events(received_at);

-- Small persistent values such as the generated webhook secret.
CREATE TABLE settings (
    key            TEXT PRIMARY KEY,
    value          TEXT NOT NULL
);
