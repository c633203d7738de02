-- PostgreSQL twin of ../0009_ledger_by_day.sql.
CREATE INDEX ledger_by_kind_time ON ledger(kind, created_at);
