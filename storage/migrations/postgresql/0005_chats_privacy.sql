-- PostgreSQL twin of ../0005_chats_privacy.sql: PostgreSQL drops NOT NULL in place.
ALTER TABLE people ALTER COLUMN chat_id DROP NOT NULL;
UPDATE people SET chat_id = NULL WHERE chat_id <= 0;
CREATE INDEX people_by_chat ON people(chat_id);

CREATE TABLE chats (
    chat_id        BIGINT PRIMARY KEY,
    type           TEXT NOT NULL,
    removed        BIGINT NOT NULL DEFAULT 0,
    updated_at     DOUBLE PRECISION NOT NULL
);
