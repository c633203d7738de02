"""Configuration from the environment and `.env`, exactly the variables of design §3."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import postgres_url_problem

MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


# What to do about a variable left empty (an `.env` copied from .env.example and not filled in).
_EMPTY_HINTS = {
    "TELEGRAM_BOT_TOKEN": "copy it from @BotFather (/mybots → your bot → API Token)",
    "SUNO_API_KEY": "copy the key from https://sunoapi.org/api-key",
}


@dataclass(frozen=True)
class StarsPack:
    """`credits` sold for `stars` Telegram Stars."""

    credits: int
    stars: int


def _packs(value: object) -> tuple[StarsPack, ...]:
    if isinstance(value, list | tuple):
        return tuple(value)
    packs = []
    for part in str(value or "").split(","):
        if not part.strip():
            continue
        credits, sep, stars = part.strip().partition(":")
        if not sep or not credits.strip().isdigit() or not stars.strip().isdigit():
            raise ValueError(f"expected credits:stars packs such as 10:50,50:200, not {part.strip()!r}")
        pack = StarsPack(int(credits), int(stars))
        if pack.credits < 1 or pack.stars < 1:
            raise ValueError(f"a pack needs at least 1 credit and 1 star, not {part.strip()!r}")
        packs.append(pack)
    if len({p.credits for p in packs}) != len(packs):
        raise ValueError("two packs have the same number of credits")
    return tuple(packs)


class ConfigError(Exception):
    """A configuration value an operator must fix; its text is one line that names the variable."""


def _id_list(value: object) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple | set):
        return [int(v) for v in value]
    ids = []
    for part in str(value).replace(";", ",").split(","):
        part = part.strip()
        if part:
            ids.append(int(part))  # ValueError becomes the variable's one-line message
    return ids


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Secrets are SecretStr so that printing or logging the settings never shows them.
    telegram_bot_token: SecretStr = Field(alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field("https://api.telegram.org", alias="TELEGRAM_API_URL")
    suno_api_key: SecretStr = Field(alias="SUNO_API_KEY")
    suno_api_url: str = Field("https://api.sunoapi.org", alias="SUNO_API_URL")
    suno_upload_url: str = Field("https://sunoapiorg.redpandaai.co", alias="SUNO_UPLOAD_URL")
    suno_model: Literal["V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"] = Field("V4_5", alias="SUNO_MODEL")
    suno_poll_interval: float = Field(30.0, alias="SUNO_POLL_INTERVAL", gt=0)
    public_url: str | None = Field(None, alias="PUBLIC_URL")
    host: str = Field("0.0.0.0", alias="HOST")
    port: int = Field(8080, alias="PORT", ge=0, le=65535)
    database_path: Path = Field(Path("data/bot.sqlite3"), alias="DATABASE_PATH")
    # Unset: SQLite at DATABASE_PATH. A postgresql:// URL: PostgreSQL, shared by any number of replicas.
    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    data_dir: Path = Field(Path("data"), alias="DATA_DIR")
    webhook_secret: SecretStr | None = Field(None, alias="WEBHOOK_SECRET")
    allowed_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="ALLOWED_USER_IDS")
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="ADMIN_USER_IDS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", alias="LOG_FORMAT")

    # Product knobs beyond design §3; defaults suit a small public bot.
    max_active_tasks_per_user: int = Field(2, alias="MAX_ACTIVE_TASKS_PER_USER", ge=1)
    max_tasks_per_day: int = Field(20, alias="MAX_TASKS_PER_DAY", ge=1)
    max_uploads_per_day: int = Field(20, alias="MAX_UPLOADS_PER_DAY", ge=1)
    provider_budget: int = Field(20, alias="SUNO_REQUESTS_PER_WINDOW", ge=1)
    provider_budget_window: float = Field(10.0, alias="SUNO_REQUEST_WINDOW", gt=0)
    # Telegram's pace: about one message a second per chat, thirty a second overall (telegram-notes.md).
    telegram_chat_interval: float = Field(1.0, alias="TELEGRAM_CHAT_INTERVAL", gt=0)
    telegram_global_rate: int = Field(30, alias="TELEGRAM_GLOBAL_RATE", ge=1)
    # The admins are told once when the provider's balance falls below this many credits (0: never),
    # checked after a submission at most once per CREDITS_CHECK_INTERVAL seconds.
    credits_alert_below: int = Field(0, alias="CREDITS_ALERT_BELOW", ge=0)
    credits_check_interval: float = Field(300.0, alias="CREDITS_CHECK_INTERVAL", gt=0)
    upload_retention_hours: float = Field(24.0, alias="UPLOAD_RETENTION_HOURS", gt=0)
    event_retention_days: float = Field(30.0, alias="EVENT_RETENTION_DAYS", gt=0)
    # People's prompts and lyrics are kept this long after their task ended, then pruned (counts stay).
    prompt_retention_days: float = Field(30.0, alias="PROMPT_RETENTION_DAYS", gt=0)
    # Tracks whose URL has one of these schemes are sent by URL for Telegram to fetch (empty: never).
    # Telegram fetches from the public internet, so production takes https only; the emulators widen it.
    delivery_url_schemes: Annotated[tuple[str, ...], NoDecode] = Field(
        ("https",), alias="DELIVERY_URL_SCHEMES"
    )
    # Payments (design §3): Telegram Stars packs of credits; none configured means payments are off.
    stars_packs: Annotated[tuple[StarsPack, ...], NoDecode] = Field((), alias="STARS_PACKS")
    free_credits: int = Field(0, alias="FREE_CREDITS", ge=0)
    credits_per_task: int = Field(1, alias="CREDITS_PER_TASK", ge=1)
    # Credits each side earns when a newcomer who came through a referral link completes a first song.
    referral_credits: int = Field(0, alias="REFERRAL_CREDITS", ge=0)
    # What one song costs the operator at the provider, in Stars: the doctor warns about a pack that sells
    # songs below it (unset: not checked).
    provider_stars_per_song: float | None = Field(None, alias="PROVIDER_STARS_PER_SONG", gt=0)

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.strip():
            raise PydanticCustomError("empty", "it is empty")
        if not _TOKEN_RE.match(text.strip()):
            raise ValueError("expected the form 123456789:ABC... given by @BotFather")
        return text.strip()

    @field_validator("suno_api_key", mode="before")
    @classmethod
    def _key_present(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.strip():
            raise PydanticCustomError("empty", "it is empty")
        return text.strip()

    @field_validator("telegram_api_url", "suno_api_url", "suno_upload_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("expected a URL such as https://bot.example.com")
        parts = urlsplit(value)
        root = f"{parts.scheme}://{parts.netloc}"
        # The bot serves /telegram, /callbacks/… and /files/… at its root and builds them from PUBLIC_URL.
        if parts.path == "/" and not parts.query and not parts.fragment:
            raise ValueError(f"remove the trailing slash: PUBLIC_URL={root}")
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"it must have no path: PUBLIC_URL={root}, with the proxy forwarding to the bot")
        if parts.scheme != "https" and not _loopback(parts.hostname or ""):
            raise ValueError(
                "it must start with https:// (Telegram sends webhooks only over HTTPS; docker compose's "
                "Caddy provides it); http:// is only for loopback tests"
            )
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or not str(value).strip():
            return None
        problem = postgres_url_problem(str(value).strip())
        if problem:  # the URL holds a password: the message names what is wrong, never echoes it
            raise ValueError(problem)
        return str(value).strip()

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "":
            return None
        value = str(value)
        # Telegram accepts 1-256 characters of A-Z a-z 0-9 _ - as a secret token.
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value):
            raise ValueError("expected 16 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("allowed_user_ids", "admin_user_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[int]:
        try:
            return _id_list(value)
        except ValueError:
            raise ValueError("expected comma-separated numeric Telegram user ids") from None

    @field_validator("stars_packs", mode="before")
    @classmethod
    def _stars_packs(cls, value: object) -> tuple[StarsPack, ...]:
        return _packs(value)

    @field_validator("provider_stars_per_song", mode="before")
    @classmethod
    def _optional_number(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("delivery_url_schemes", mode="before")
    @classmethod
    def _schemes(cls, value: object) -> tuple[str, ...]:
        parts = value if isinstance(value, list | tuple | set | frozenset) else str(value or "").split(",")
        schemes = tuple(dict.fromkeys(str(p).strip().lower() for p in parts if str(p).strip()))
        if any(s not in ("http", "https") for s in schemes):
            raise ValueError("expected a comma-separated list of http and https, or nothing")
        return schemes

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for log redaction."""
        values = [self.telegram_bot_token, self.suno_api_key, self.webhook_secret]
        found = [v.get_secret_value() for v in values if v is not None]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            found += [password] if password else []
        return found

    @property
    def payments_on(self) -> bool:
        return bool(self.stars_packs)

    @property
    def webhook_mode(self) -> bool:
        return self.public_url is not None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = first.get("loc") or ("?",)
    name = str(loc[0])
    field = Settings.model_fields.get(name) or next(
        (f for f in Settings.model_fields.values() if f.alias == name), None
    )
    variable = field.alias if field and field.alias else name.upper()
    if first.get("type") == "missing":
        return f"{variable} is not set: it is required (put it in the environment or in .env)"
    given = first.get("input")
    if first.get("type") == "empty" or (isinstance(given, str) and not given.strip()):
        default = field.default if field is not None else None
        hint = _EMPTY_HINTS.get(variable) or (
            f"give it a value, or delete the line to use the default ({default})"
            if default is not None and not callable(default)
            else "give it a value, or delete the line"
        )
        return f"{variable} is empty: {hint}"
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    return f"{variable} is invalid: {message}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise ConfigError with one line naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
