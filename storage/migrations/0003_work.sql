-- Every piece of pending work is a row: submissions, record-info polls, progress messages, track
-- deliveries and admins' alerts. A worker leases an item, does it and records the outcome; a crash or an
-- exception leaves it claimable again once its lease ends (bot/tasks/work_queue.py).
CREATE TABLE work (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,     -- submit | poll | progress | deliver | alert
    key            TEXT NOT NULL UNIQUE,  -- what it is about, e.g. 'progress:12'; one row per thing to do
    task_id        INTEGER,
    chat_id        INTEGER,           -- chat work of one chat is done in order
    state          TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
    attempts       INTEGER NOT NULL DEFAULT 0,       -- failed attempts so far
    due_at         REAL NOT NULL,     -- not before
    version        INTEGER NOT NULL DEFAULT 0,       -- bumped each time it is asked for again
    lease_owner    TEXT,              -- the process doing it now
    lease_until    REAL,              -- and until when it may; then anyone may take it over
    waiting_for    TEXT,              -- 'telegram' while Telegram is unreachable: due again when it is back
    last_error     TEXT,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE INDEX work_pending ON work(due_at) WHERE state = 'pending';
CREATE INDEX work_by_task ON work(task_id);

-- Work that was waiting in memory when this version was installed, so an upgrade loses nothing: tasks
-- never sent (those whose submission had started are handled like an answer that never came), polls and
-- progress of tasks under way, and tracks not delivered yet.
INSERT INTO work (kind, key, task_id, chat_id, due_at, created_at, updated_at)
    SELECT 'submit', 'submit:' || id, id, chat_id, created_at, created_at, created_at
    FROM tasks WHERE stage = 'queued';
INSERT INTO work (kind, key, task_id, chat_id, due_at, created_at, updated_at)
    SELECT 'poll', 'poll:' || id, id, chat_id, last_event_at, last_event_at, last_event_at
    FROM tasks WHERE stage IN ('submitted', 'text', 'first');
INSERT INTO work (kind, key, task_id, chat_id, due_at, created_at, updated_at)
    SELECT 'progress', 'progress:' || id, id, chat_id, last_event_at, last_event_at, last_event_at
    FROM tasks WHERE stage NOT IN ('complete', 'failed');
INSERT INTO work (kind, key, task_id, chat_id, due_at, created_at, updated_at)
    SELECT 'deliver', 'deliver:' || k.id, k.task_id, t.chat_id, t.last_event_at, t.last_event_at,
        t.last_event_at
    FROM tracks k JOIN tasks t ON t.id = k.task_id
    WHERE t.stage = 'complete' AND k.sent_at IS NULL AND k.audio_url IS NOT NULL;
