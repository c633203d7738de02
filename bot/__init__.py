"""A Telegram bot for AI music on a hosted Suno-style API."""

import os

# python-telegram-bot 22 returns time periods (e.g. RetryAfter.retry_after) as timedelta only when this is
# set, and warns on every access otherwise; we handle timedelta everywhere.
os.environ.setdefault("PTB_TIMEDELTA", "1")
