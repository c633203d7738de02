-- PostgreSQL twin of ../0002_conversations.sql.
CREATE TABLE conversations (
    handler        TEXT NOT NULL,
    conversation   TEXT NOT NULL,
    state          TEXT NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (handler, conversation)
);
CREATE INDEX conversations_by_age ON conversations(updated_at);

CREATE TABLE user_data (
    user_id        BIGINT PRIMARY KEY,
    data           TEXT NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX user_data_by_age ON user_data(updated_at);
