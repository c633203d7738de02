-- The bytes of the files people send, kept in the database when replicas share it (PostgreSQL): the
-- provider fetches /files/<token> from whichever replica the balancer picks. In pieces of a fixed size,
-- so a file is written and served a piece at a time. SQLite (one process) keeps its files on disk and
-- leaves this table empty; uploads.path is '' for an upload whose bytes are here.
CREATE TABLE upload_chunks (
    upload_id      INTEGER NOT NULL REFERENCES uploads(id),
    seq            INTEGER NOT NULL,
    data           BLOB NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
