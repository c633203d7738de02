-- Limits shared by replicas on one PostgreSQL database (storage/limits.py, bot/provider/shared_budget.py):
-- each row is a slot of a budget (the provider's key, Telegram's token, one chat), held while its request
-- is in flight and until `window` seconds after its answer. SQLite runs one process, which holds every
-- limit in memory: there these tables stay empty, and exist so that both backends have one schema.
CREATE TABLE limit_slots (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    scope          TEXT NOT NULL,     -- provider:<key hash> | telegram:<bot id> | telegram:<bot id>:<chat>
    free_at        REAL NOT NULL,     -- database clock: the lease's end while in flight, else answer + window
    in_flight      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX limit_slots_by_scope ON limit_slots(scope, free_at);
CREATE INDEX limit_slots_by_free_at ON limit_slots(free_at);

-- A 429's retry_after for a scope: nothing is granted in it before `blocked_until` (database clock).
CREATE TABLE limit_blocks (
    scope          TEXT PRIMARY KEY,
    blocked_until  REAL NOT NULL
);
