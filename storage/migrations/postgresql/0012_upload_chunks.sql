-- PostgreSQL twin of ../0012_upload_chunks.sql.
CREATE TABLE upload_chunks (
    upload_id      BIGINT NOT NULL REFERENCES uploads(id),
    seq            BIGINT NOT NULL,
    data           BYTEA NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
