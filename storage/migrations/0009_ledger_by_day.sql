-- /stats reads the day's purchases, refunds and settles, and /metrics every purchase and refund, by kind
-- and time: without this each scrape would read the whole ledger.
CREATE INDEX ledger_by_kind_time ON ledger(kind, created_at);
