-- The credit ledger: append-only entries whose sum is a person's balance (never a counter kept in
-- place, so a lost update cannot mint or burn credits). Every entry has a unique key naming what
-- caused it (a task's hold, a Telegram charge id, ...), which makes writing it twice a no-op.
CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN
                    ('grant', 'purchase', 'hold', 'settle', 'release', 'refund', 'referral', 'adjustment')),
    amount      INTEGER NOT NULL,  -- credits: positive adds, negative takes; a settle is 0
    reason      TEXT NOT NULL,
    key         TEXT NOT NULL UNIQUE,
    task_id     INTEGER,
    stars       INTEGER,           -- a purchase's (or refund's) Telegram Stars, for the day's revenue
    created_at  REAL NOT NULL
);
CREATE INDEX ledger_by_user ON ledger(user_id, id);

-- A task's hold ends in the same transaction as the task does, whichever path ends it (an applied
-- callback, a poll, a failed submission): triggers, because every one of those writes tasks.stage.
-- A complete task's hold is settled (the credits are spent).
CREATE TRIGGER ledger_settle_complete AFTER UPDATE OF stage ON tasks
WHEN NEW.stage = 'complete' AND OLD.stage <> 'complete'
BEGIN
    INSERT OR IGNORE INTO ledger (user_id, kind, amount, reason, key, task_id, created_at)
    SELECT h.user_id, 'settle', 0, 'song made', 'settle:' || NEW.id, NEW.id,
        COALESCE(NEW.finished_at, NEW.last_event_at)
    FROM ledger h WHERE h.key = 'hold:' || NEW.id
        AND NOT EXISTS (SELECT 1 FROM ledger e WHERE e.key IN ('settle:' || NEW.id, 'release:' || NEW.id));
END;

-- A failed task's credits are kept only when the failure was the person's own (400 bad request, 413
-- too long, 451 refused content, 1001 sensitive words) and the provider had accepted the task, so it
-- may have charged us; every other failure (5xx, 531, timeouts, ours, error.unconfirmed) gives them back.
CREATE TRIGGER ledger_end_failed AFTER UPDATE OF stage ON tasks
WHEN NEW.stage = 'failed' AND OLD.stage <> 'failed'
BEGIN
    INSERT OR IGNORE INTO ledger (user_id, kind, amount, reason, key, task_id, created_at)
    SELECT h.user_id,
        CASE WHEN kept THEN 'settle' ELSE 'release' END,
        CASE WHEN kept THEN 0 ELSE -h.amount END,
        CASE WHEN kept THEN 'kept: error ' ELSE 'given back: error ' END || COALESCE(NEW.error_code, '?'),
        CASE WHEN kept THEN 'settle:' ELSE 'release:' END || NEW.id,
        NEW.id, COALESCE(NEW.finished_at, NEW.last_event_at)
    FROM (SELECT h.*, (NEW.error_code IN (400, 413, 451, 1001) AND NEW.provider_task_id IS NOT NULL) AS kept
          FROM ledger h WHERE h.key = 'hold:' || NEW.id) h
    WHERE NOT EXISTS (SELECT 1 FROM ledger e WHERE e.key IN ('settle:' || NEW.id, 'release:' || NEW.id));
END;

-- Who came through whose referral link (one row per newcomer, so a second link changes nothing), and the
-- credits each side gets, fixed when they arrived.
CREATE TABLE referrals (
    user_id      INTEGER PRIMARY KEY,
    referrer_id  INTEGER NOT NULL,
    credits      INTEGER NOT NULL,
    created_at   REAL NOT NULL,
    CHECK (user_id <> referrer_id)
);

-- The newcomer's first complete song rewards both sides, once (the entries' keys name the newcomer).
CREATE TRIGGER referral_reward AFTER UPDATE OF stage ON tasks
WHEN NEW.stage = 'complete' AND OLD.stage <> 'complete'
BEGIN
    INSERT OR IGNORE INTO ledger (user_id, kind, amount, reason, key, created_at)
    SELECT r.user_id, 'referral', r.credits, 'joined through ' || r.referrer_id || '''s link',
        'referral:new:' || r.user_id, COALESCE(NEW.finished_at, NEW.last_event_at)
    FROM referrals r WHERE r.user_id = NEW.user_id AND r.credits > 0;
    INSERT OR IGNORE INTO ledger (user_id, kind, amount, reason, key, created_at)
    SELECT r.referrer_id, 'referral', r.credits, 'brought user ' || r.user_id,
        'referral:by:' || r.user_id, COALESCE(NEW.finished_at, NEW.last_event_at)
    FROM referrals r WHERE r.user_id = NEW.user_id AND r.credits > 0;
END;
