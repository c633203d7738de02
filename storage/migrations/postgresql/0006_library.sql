-- PostgreSQL twin of ../0006_library.sql.
ALTER TABLE tracks ADD COLUMN library_hidden_at DOUBLE PRECISION;
CREATE INDEX tracks_library ON tracks(task_id, sent_at) WHERE telegram_file_id IS NOT NULL AND library_hidden_at IS NULL;
