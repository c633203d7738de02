"""What `python -m bot run` checks about this machine before it starts, and `doctor` reports too.

Each check answers None (fine) or one line that names the variable to fix and says how. They run before
anything is opened, so a start that cannot work stops with that line instead of a traceback half way
through start-up (SQLite's "unable to open database file", a port taken after "bot started").
"""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path

import aiohttp

from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.provider.errors import ProviderError, ProviderUnavailable
from bot.settings import Settings

PROVIDER_PROBE_SECONDS = 10.0


def local_problems(settings: Settings) -> list[str]:
    """Everything about this machine that would stop the bot: storage first, then the port."""
    problems = storage_problems(settings)
    port = port_problem(settings.host, settings.port)
    return problems + ([port] if port else [])


def storage_problems(settings: Settings) -> list[str]:
    database = settings.database_path
    problems = []
    if settings.database_url is not None:
        pass  # PostgreSQL: reachability is checked by connecting (storage/postgres.py names what failed)
    elif database.is_dir():
        problems.append(
            f"DATABASE_PATH={database} is a folder, not a file: name a file in it, e.g. "
            f"DATABASE_PATH={database / 'bot.sqlite3'}"
        )
    else:
        problems.append(writable_problem(database.parent, "DATABASE_PATH", database))
    problems.append(writable_problem(settings.data_dir, "DATA_DIR", settings.data_dir))
    return [p for p in problems if p]


def writable_problem(folder: Path, variable: str, value: Path) -> str | None:
    """None when the bot can write in `folder` (or create it), else what is wrong and what to do."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{variable}={value}: {existing} is not a folder, so {folder} cannot be created there"
    try:
        # Creating a file is the only honest test: permission bits say nothing about read-only mounts or root.
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".bot-check-"):
            pass
    except OSError as error:
        return (
            f"{variable}={value}: the bot cannot write in {existing} ({error.strerror}); give the bot's user "
            "write access there (in Docker: the bot-data volume at /data) or choose another folder"
        )
    return None


def port_problem(host: str, port: int) -> str | None:
    """None when HOST:PORT can be listened on now, else who to blame.

    Bound with SO_REUSEADDR like aiohttp's own server, so a port left in TIME_WAIT by the previous run is
    free, and only a program that really listens there is reported.
    """
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return (
            f"HOST={host} is not an address of this machine ({error.strerror}); use 0.0.0.0 for every address"
        )
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as error:
                return listen_problem(host, port, error)
    return None


def listen_problem(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"PORT={port}: another program already listens on {host}:{port} (another copy of the bot?); "
            "stop it or set another PORT"
        )
    if error.errno == errno.EACCES:
        return f"PORT={port}: this user may not listen on ports below 1024; set PORT=8080 behind the proxy"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"HOST={host} is not an address of this machine; use 0.0.0.0 for every address"
    return f"cannot listen on HOST:PORT {host}:{port}: {error.strerror or error}"


async def provider_problem(settings: Settings, budget: SlidingWindowBudget) -> str | None:
    """One request for the balance: None when the provider answers and takes the key, else what is wrong.

    `budget` is the running bot's provider budget: the provider counts this request like any other.
    """
    timeout = PROVIDER_PROBE_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        client = ProviderClient(
            session,
            base_url=settings.suno_api_url,
            upload_url=settings.suno_upload_url,
            api_key=settings.suno_api_key.get_secret_value(),
            budget=budget,
            retries=0,  # a start-up hint, not a retry loop: the first answer is the one to report
            timeout=timeout,
        )
        try:
            await client.credits()
        except ProviderUnavailable as error:
            return (
                f"cannot reach the provider at SUNO_API_URL ({settings.suno_api_url}): {error.message}; "
                "the bot runs, but songs fail until it answers (check the URL, DNS and firewall)"
            )
        except ProviderError as error:
            if error.code in (401, 403):
                return (
                    "SUNO_API_KEY was refused by the provider: copy it again from https://sunoapi.org/api-key"
                )
            where = f"SUNO_API_URL ({settings.suno_api_url})"
            return f"the provider at {where} answered {error.code}: {error.message}"
    return None
