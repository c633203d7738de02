"""`python -m bot doctor`: check a deployment step by step and say in plain words what to fix.

Every check prints one line: ✓ passed, ✗ failed (with what to do), ! worth knowing but not a failure,
– skipped because an earlier check failed or the mode does not need it. Secrets never reach the output:
the token shows only its bot id, and every line is scrubbed before it is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.ops.preflight import port_problem, storage_problems
from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.provider.errors import ProviderError, ProviderUnavailable
from bot.settings import Settings
from bot.telegram.request import AiohttpRequest
from storage.db import DatabaseUnavailable, latest_version

OK, FAIL, NOTE, SKIP = "✓", "✗", "!", "–"
OFFICIAL_TELEGRAM_API = "https://api.telegram.org"
PUBLIC_URL_TIMEOUT = 5.0
# Telegram keeps the last delivery error for a long time; only a recent one says something is wrong now.
RECENT_ERROR_SECONDS = 15 * 60


def mask_token(token: str) -> str:
    """The bot id identifies the bot without granting anything; the part after the colon is the secret."""
    bot_id, _, _ = token.partition(":")
    return f"{bot_id}:***"


@dataclass
class _Report:
    out: Callable[[str], object]
    replacements: list[tuple[str, str]] = field(default_factory=list)
    failed: bool = False
    # Why Telegram gave no bot to check the webhook with, for the line that skips that check.
    telegram_problem: str = "Telegram did not accept the token"

    def line(self, mark: str, text: str) -> None:
        for secret, shown in self.replacements:
            text = text.replace(secret, shown)
        if mark == FAIL:
            self.failed = True
        self.out(f"{mark} {text}")


def _report_for(settings: Settings, out: Callable[[str], object]) -> _Report:
    token = settings.telegram_bot_token.get_secret_value()
    pairs = [
        (token, mask_token(token)),
        (token.partition(":")[2], "***"),
        (settings.suno_api_key.get_secret_value(), "***"),
        (settings.webhook_secret.get_secret_value() if settings.webhook_secret else "", "***"),
    ]
    # Longest first so the whole token is masked before its secret part is; tiny strings would mangle text.
    pairs = sorted((p for p in pairs if len(p[0]) >= 4), key=lambda p: len(p[0]), reverse=True)
    return _Report(out, pairs)


async def run_doctor(settings: Settings, *, out: Callable[[str], object] = print) -> int:
    """Run every check in order; 0 when none failed, 1 otherwise."""
    report = _report_for(settings, out)
    bot_holder: list[Bot] = []

    async with contextlib.AsyncExitStack() as stack:
        checks: list[Callable[[], Any]] = [
            lambda: _check_configuration(settings, report),
            lambda: _check_telegram(settings, report, stack, bot_holder),
            lambda: _check_provider(settings, report),
            lambda: _check_webhook(settings, report, bot_holder),
            lambda: _check_public_url(settings, report),
            lambda: _check_storage(settings, report),
            lambda: _check_port(settings, report),
        ]
        for check in checks:
            try:
                await check()
            except Exception as error:  # a doctor explains; it never shows a traceback
                report.line(FAIL, f"the check stopped unexpectedly: {type(error).__name__}: {error}")
    return 1 if report.failed else 0


async def _check_configuration(settings: Settings, report: _Report) -> None:
    token = settings.telegram_bot_token.get_secret_value()
    if settings.webhook_mode:
        mode = f"webhook mode (PUBLIC_URL={settings.public_url})"
    else:
        mode = "polling mode (PUBLIC_URL is not set: no webhook, no public address needed)"
    people = (
        f"{len(settings.allowed_user_ids)} allowed people"
        if settings.allowed_user_ids
        else "everyone may use the bot (ALLOWED_USER_IDS is empty)"
    )
    report.line(
        OK,
        f"configuration loaded: {mode}; bot token {mask_token(token)}; {people}",
    )
    if not settings.admin_user_ids:
        report.line(
            NOTE,
            "ADMIN_USER_IDS is empty: nobody can use /credits, /stats and /broadcast or bypass quotas; "
            "add your Telegram user id (ask @userinfobot) to ADMIN_USER_IDS",
        )
    losing = losing_packs(settings)
    if losing:
        report.line(NOTE, losing)
    # Its scheme and path are checked when the settings load; only Telegram's port rule is left.
    if settings.public_url is not None:
        parts = urlsplit(settings.public_url)
        official = settings.telegram_api_url == OFFICIAL_TELEGRAM_API
        if official and (parts.port or 443) not in (80, 88, 443, 8443):
            report.line(
                FAIL, "PUBLIC_URL uses a port Telegram refuses for webhooks: use 443 (or 80, 88, 8443)"
            )


def losing_packs(settings: Settings) -> str | None:
    """One line naming the packs that sell a song for fewer Stars than it costs at the provider."""
    cost = settings.provider_stars_per_song
    if cost is None or not settings.payments_on:
        return None
    per_task = settings.credits_per_task
    losing = [p for p in settings.stars_packs if p.stars / p.credits * per_task < cost]
    if not losing:
        return None
    shown = ", ".join(f"{p.credits}:{p.stars} ({p.stars / p.credits * per_task:g} ⭐ a song)" for p in losing)
    return (
        f"STARS_PACKS loses money: {shown} at CREDITS_PER_TASK={per_task}, below "
        f"PROVIDER_STARS_PER_SONG={cost:g}; raise those packs' Stars or CREDITS_PER_TASK"
    )


def _telegram_bot(settings: Settings) -> Bot:
    api = settings.telegram_api_url
    # Short timeouts: the doctor should answer in seconds, not wait out a dead network.
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=AiohttpRequest(connect_timeout=5, read_timeout=10, write_timeout=10, pool_timeout=5),
        get_updates_request=AiohttpRequest(connect_timeout=5, read_timeout=10, pool_timeout=5),
    )


async def _check_telegram(
    settings: Settings, report: _Report, stack: contextlib.AsyncExitStack, holder: list[Bot]
) -> None:
    bot = _telegram_bot(settings)
    try:
        # Initialising calls getMe, which is exactly the token check; the bot stays open for the webhook.
        await stack.enter_async_context(bot)
    except InvalidToken:
        where = (
            ""
            if settings.telegram_api_url == OFFICIAL_TELEGRAM_API
            else f" (or TELEGRAM_API_URL={settings.telegram_api_url} is not a Bot API server)"
        )
        report.line(
            FAIL,
            f"TELEGRAM_BOT_TOKEN was refused by Telegram{where}: copy it again from @BotFather (/mybots → "
            "your bot → API Token)",
        )
        return
    except NetworkError as error:  # TimedOut included: nothing was answered, so the token is untested
        report.telegram_problem = "cannot reach Telegram"
        report.line(
            FAIL,
            f"cannot reach Telegram at TELEGRAM_API_URL ({settings.telegram_api_url}): {error.message}; "
            "check this machine's internet access, DNS and firewall",
        )
        return
    except TelegramError as error:
        report.telegram_problem = "Telegram answered getMe with an error"
        report.line(FAIL, f"Telegram answered getMe with an error: {error.message}")
        return
    holder.append(bot)
    me = bot.bot
    report.line(OK, f"TELEGRAM_BOT_TOKEN works: this is @{me.username} (id {me.id})")
    if me.supports_inline_queries:
        report.line(OK, f"inline mode is on: people can post their songs in any chat with @{me.username}")
    else:
        report.line(
            NOTE,
            f"inline mode is off: to let people post their songs in any chat with @{me.username}, send "
            "/setinline to @BotFather, choose the bot and give a placeholder such as 'Search your songs'",
        )


async def _check_provider(settings: Settings, report: _Report) -> None:
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = ProviderClient(
            session,
            base_url=settings.suno_api_url,
            upload_url=settings.suno_upload_url,
            api_key=settings.suno_api_key.get_secret_value(),
            budget=SlidingWindowBudget(settings.provider_budget, settings.provider_budget_window),
            # One try: retrying with backoff would keep the operator waiting for the same answer.
            retries=0,
            timeout=10.0,
        )
        try:
            balance = await client.credits()
        except ProviderUnavailable as error:
            report.line(
                FAIL,
                f"cannot reach SUNO_API_URL ({settings.suno_api_url}): {error.message}; "
                "check this machine's internet access, DNS and firewall",
            )
            return
        except ProviderError as error:
            if error.code in (401, 403):
                report.line(
                    FAIL,
                    "SUNO_API_KEY was refused by the provider: copy it again from https://sunoapi.org/api-key",
                )
            else:
                report.line(FAIL, f"the provider at SUNO_API_URL answered code {error.code}: {error.message}")
            return
    if balance <= 0:
        report.line(
            NOTE,
            "SUNO_API_KEY works, but the balance is 0 credits: nobody can make music until you top up "
            "at https://sunoapi.org",
        )
    else:
        report.line(OK, f"SUNO_API_KEY works: the balance is {balance} credits")


async def _check_webhook(settings: Settings, report: _Report, holder: list[Bot]) -> None:
    if not holder:
        report.line(SKIP, f"webhook not checked: {report.telegram_problem}")
        return
    info = await holder[0].get_webhook_info()
    pending = info.pending_update_count
    if settings.webhook_mode:
        expected = f"{settings.public_url}/telegram"
        if not info.url:
            report.line(
                FAIL,
                f"Telegram has no webhook yet ({pending} updates waiting): the bot sets it to {expected} "
                "when it starts; start it, or if it runs, read its log (docker compose logs bot)",
            )
            return
        if info.url != expected:
            report.line(
                FAIL,
                f"Telegram sends updates to {info.url}, not to {expected}: another deployment with this "
                "token may have set it; stop that one and restart this bot, which sets its own webhook",
            )
            return
        report.line(OK, f"the webhook points at {expected}; {pending} updates waiting")
    else:
        if info.url:
            report.line(
                FAIL,
                f"a webhook is set ({info.url}) although PUBLIC_URL is not: while it is set, polling "
                "receives nothing. The bot deletes it when it starts; if it already runs, another "
                "deployment with this token set it: stop that one or give it its own token",
            )
            return
        report.line(OK, f"no webhook is set, as polling mode needs; {pending} updates waiting")
    if info.last_error_message:
        age = _age(info.last_error_date.timestamp() if info.last_error_date else None)
        recent = info.last_error_date is not None and time.time() - info.last_error_date.timestamp() < (
            RECENT_ERROR_SECONDS
        )
        text = f"Telegram's last delivery error{age}: {info.last_error_message}"
        if recent and pending > 0:
            report.line(FAIL, text + "; updates are piling up: check that PUBLIC_URL reaches the bot")
        else:
            report.line(NOTE, text)


def _age(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    minutes = max(0, int((time.time() - timestamp) // 60))
    return f" ({minutes} min ago)" if minutes < 120 else f" ({minutes // 60} h ago)"


async def _check_public_url(settings: Settings, report: _Report) -> None:
    if settings.public_url is None:
        report.line(SKIP, "public URL not checked: polling mode needs none")
        return
    url = f"{settings.public_url}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUBLIC_URL_TIMEOUT)) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            status = response.status
            body: Any = None
            with contextlib.suppress(ValueError, aiohttp.ContentTypeError):
                body = await response.json()
    except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError):
        report.line(
            FAIL,
            f"{url} has no valid HTTPS certificate yet: Caddy gets one on first start when PUBLIC_HOST "
            "matches PUBLIC_URL, DNS points at this server and ports 80 and 443 are open (docker compose "
            "logs caddy)",
        )
        return
    except aiohttp.ClientConnectorError as error:
        report.line(
            FAIL,
            f"cannot reach PUBLIC_URL ({url}: {error.strerror or type(error).__name__}): Telegram and the "
            "provider need it. Check the DNS record, the firewall (ports 80, 443), the proxy, and that "
            "the bot is running",
        )
        return
    except (TimeoutError, aiohttp.ClientError) as error:
        report.line(
            FAIL,
            f"cannot reach PUBLIC_URL ({url}: no answer, {type(error).__name__}): check the firewall, "
            "the proxy and that the bot is running",
        )
        return
    if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
        report.line(OK, f"PUBLIC_URL reaches the bot: {url} answers ok")
    elif status == 503 and isinstance(body, dict):
        report.line(
            FAIL, f"{url} reaches the bot, but its storage does not answer: read docker compose logs bot"
        )
    elif status in (502, 503, 504):
        report.line(
            FAIL, f"{url} answered HTTP {status}: the proxy cannot reach the bot; is the bot running?"
        )
    elif status in (301, 302, 307, 308):
        report.line(
            FAIL,
            f"{url} redirects (HTTP {status}) to {response.headers.get('Location', '?')}: Telegram and the "
            "provider do not follow redirects; set PUBLIC_URL to the final address",
        )
    else:
        report.line(
            FAIL,
            f"{url} answered HTTP {status}, not the bot's health check: check that the proxy forwards "
            "/healthz, /telegram, /callbacks/ and /files/ to the bot (Caddyfile)",
        )


async def _check_storage(settings: Settings, report: _Report) -> None:
    if settings.database_url is not None:
        await _check_postgres(settings.database_url.get_secret_value(), report)
        return
    database = settings.database_path
    problems = await asyncio.to_thread(storage_problems, settings)
    for problem in problems:
        report.line(FAIL, f"storage: {problem}")
    if problems:
        return
    if not await asyncio.to_thread(database.exists):
        report.line(OK, f"storage: {database} does not exist yet; the bot creates it at first start")
        return
    latest = latest_version()
    try:
        version = await asyncio.to_thread(_schema_version, database)
    except (sqlite3.Error, OSError) as error:
        report.line(
            FAIL,
            f"storage: {database} cannot be read as a SQLite database ({error}); restore a backup or move "
            "it aside to start afresh",
        )
        return
    if version > latest:
        report.line(
            FAIL,
            f"storage: {database} was written by a newer bot (schema {version}, this one knows {latest}): "
            "run the newer version or restore a backup",
        )
    elif version < latest:
        report.line(
            OK,
            f"storage: {database} opens (schema {version}); the bot migrates it to {latest} when it starts",
        )
    else:
        report.line(OK, f"storage: {database} opens and is up to date (schema {version})")


async def _check_postgres(url: str, report: _Report) -> None:
    """Connect and read the schema version, changing nothing (migrations run when the bot starts)."""
    from storage.postgres import PostgresDatabase  # psycopg is loaded only when PostgreSQL is in use

    try:
        db = PostgresDatabase(url, pool_size=1)
        where = db.where
        await db.open()
    except DatabaseUnavailable as error:
        report.line(FAIL, f"storage: {error}")
        return
    try:
        version = await db.stored_version()
    finally:
        await db.close()
    latest = latest_version("postgresql")
    if version > latest:
        report.line(
            FAIL,
            f"storage: DATABASE_URL {where} was written by a newer bot (schema {version}, this one knows "
            f"{latest}): run the newer version or restore a backup",
        )
    elif version < latest:
        state = "empty" if version == 0 else f"at schema {version}"
        report.line(OK, f"storage: DATABASE_URL {where} answers ({state}); the bot migrates it to {latest}")
    else:
        report.line(OK, f"storage: DATABASE_URL {where} answers and is up to date (schema {version})")


def _schema_version(path: Path) -> int:
    # Read-only, so checking never migrates or otherwise changes the operator's database.
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("PRAGMA user_version").fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


async def _check_port(settings: Settings, report: _Report) -> None:
    where = f"{settings.host}:{settings.port}"
    problem = await asyncio.to_thread(port_problem, settings.host, settings.port)
    if problem is None:
        report.line(OK, f"port: the bot can listen on HOST:PORT {where}")
        return
    if await _bot_answers_at(settings):
        # The doctor often runs beside the bot it checks (docker compose exec bot python -m bot doctor).
        report.line(OK, f"port: {where} is the running bot's (its /healthz answers)")
        return
    report.line(FAIL, f"port: {problem}")


async def _bot_answers_at(settings: Settings) -> bool:
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUBLIC_URL_TIMEOUT)) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            body = await response.json(content_type=None)
    except (TimeoutError, ValueError, aiohttp.ClientError):
        return False
    return isinstance(body, dict) and "status" in body
