-- PostgreSQL twin of ../0013_recovery.sql.
ALTER TABLE tracks ADD COLUMN lost_url TEXT;
