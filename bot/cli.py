"""The command line: run the bot, run the offline demo, or check a deployment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
from pathlib import Path

from aiohttp import web
from telegram.error import InvalidToken, NetworkError, TimedOut

from bot.app import build_app
from bot.ops.logging_setup import setup_logging
from bot.ops.preflight import listen_problem, local_problems, provider_problem
from bot.provider.budget import SlidingWindowBudget
from bot.settings import ConfigError, Settings, load_settings
from bot.web.keys import SERVICES
from storage.db import DatabaseUnavailable, UnsupportedDatabaseVersion

log = logging.getLogger("bot")


class CannotListen(Exception):
    """The web server could not take HOST:PORT; the text is the line that says what to fix."""


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the web server (and with it the bot) until SIGINT/SIGTERM or `stop` is set."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread or on some platforms; Ctrl+C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    probe: asyncio.Task[None] | None = None
    try:
        # Inside the try: when start-up fails half way, cleanup still closes what had been opened.
        await runner.setup()
        # Not fatal: the bot can run while the provider is away, but the operator should know now rather
        # than when the first person's song fails. The probe is a provider request like any other, so it
        # takes its slot in the bot's own budget (with replicas, the shared one): with a budget of its own
        # each start-up sent one request nobody counted, and a burst right after start went over (issue 14).
        budget = app[SERVICES].provider.budget
        probe = asyncio.create_task(_warn_about_provider(settings, budget), name="provider-probe")
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as error:  # taken since the check before start-up
            raise CannotListen(listen_problem(settings.host, settings.port, error)) from None
        log.info("listening on %s:%s", settings.host, settings.port)
        await stop.wait()
        log.info("stopping")
    finally:
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        await runner.cleanup()


async def _warn_about_provider(settings: Settings, budget: SlidingWindowBudget) -> None:
    try:
        problem = await provider_problem(settings, budget)
    except Exception as error:  # a hint must never stop the bot
        problem = f"could not check the provider at SUNO_API_URL: {type(error).__name__}: {error}"
    if problem:
        log.warning("%s", problem)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(
        settings.log_level,
        settings.log_format,
        secrets=settings.secrets,
    )
    # Before anything opens: a start that cannot work says so in one line, before any "started".
    problems = local_problems(settings)
    if problems:
        print(problems[0], file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except CannotListen as error:
        print(error, file=sys.stderr)
        return 2
    except InvalidToken:
        print("TELEGRAM_BOT_TOKEN was refused by Telegram: copy it again from @BotFather", file=sys.stderr)
        return 2
    except (NetworkError, TimedOut) as error:
        print(
            f"cannot reach Telegram at TELEGRAM_API_URL {settings.telegram_api_url}: {error}", file=sys.stderr
        )
        return 2
    except DatabaseUnavailable as error:  # PostgreSQL: what failed (DNS, refused, authentication, ...)
        print(error, file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as error:
        print(
            f"DATABASE_PATH={settings.database_path} cannot be used as a SQLite database ({error}): restore "
            "a backup, or move it aside to start afresh",
            file=sys.stderr,
        )
        return 2
    except OSError as error:  # anything else of the machine's: one line, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        print(f"the bot could not start: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    output = Path(args.output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run_demo(output, verbose=args.verbose))


def _doctor(args: argparse.Namespace) -> int:
    from bot.ops.doctor import run_doctor

    settings = load_settings()
    return asyncio.run(run_doctor(settings))


def _migrate(args: argparse.Namespace) -> int:
    from bot.ops.migrate import run_migrate_to_postgres

    return run_migrate_to_postgres(load_settings(), force=args.force)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="A Telegram bot for AI music.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot (webhook mode with PUBLIC_URL, polling otherwise)")
    demo = commands.add_parser("demo", help="the whole bot against built-in emulators, offline")
    demo.add_argument(
        "--output", default="demo-output", help="folder for the received audio (default: %(default)s)"
    )
    demo.add_argument("--verbose", action="store_true", help="also print the bot's logs")
    commands.add_parser("doctor", help="check configuration, token, provider key, webhook and public URL")
    migrate = commands.add_parser(
        "migrate-to-postgres", help="copy the SQLite database at DATABASE_PATH into DATABASE_URL"
    )
    migrate.add_argument("--force", action="store_true", help="replace what the target already holds")
    args = parser.parse_args(argv)
    handler = {"run": _run, "demo": _demo, "doctor": _doctor, "migrate-to-postgres": _migrate}[args.command]
    try:
        return handler(args)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except UnsupportedDatabaseVersion as error:
        print(f"storage error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
