"""The fixed contract of design §3, copied here: tests must not read the shared design folder."""

DESIGN_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "SUNO_API_KEY",
    "SUNO_API_URL",
    "SUNO_UPLOAD_URL",
    "SUNO_MODEL",
    "SUNO_POLL_INTERVAL",
    "PUBLIC_URL",
    "HOST",
    "PORT",
    "DATABASE_PATH",
    "DATA_DIR",
    "WEBHOOK_SECRET",
    "ALLOWED_USER_IDS",
    "ADMIN_USER_IDS",
    "LOG_LEVEL",
    "LOG_FORMAT",
)
