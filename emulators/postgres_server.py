"""A real, throwaway PostgreSQL server on loopback, for the tests, the benchmarks and the replica demo.

Not an emulator: the PostgreSQL backend is tested against the real thing. The server comes from the
machine's PostgreSQL installation (`initdb` and `pg_ctl` under /usr/lib/postgresql/*/bin, or on PATH) or,
where none is installed, from the `pgserver` wheel (which ships its own binaries). `initdb` refuses to
run as root, so as root the server runs as the `postgres` user when it exists. Data lives in a temporary
folder with fsync off: nothing here needs to survive the machine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def _binaries() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    try:
        import pgserver  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """`start()` a server, `new_database()` for each test, `stop()` at the end."""

    def __init__(self) -> None:
        self.port = 0
        self._dir: Path | None = None
        self._bin: Path | None = None
        self._user: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *command: str) -> list[str]:
        return ["runuser", "-u", self._user, "--", *command] if self._user else list(command)

    def start(self) -> None:
        binaries = _binaries()
        if binaries is None:
            raise PostgresUnavailable("no PostgreSQL binaries (install postgresql or pgserver)")
        self._bin = binaries
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root with no `postgres` user for initdb") from None
            self._user = "postgres"
        self._dir = Path(tempfile.mkdtemp(prefix="bot-postgres-"))
        if self._user:
            shutil.chown(self._dir, self._user)
        data = self._dir / "data"
        self.port = _free_port()
        run = {"check": True, "capture_output": True, "timeout": 60}
        try:
            subprocess.run(
                self._as_owner(
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ),
                **run,  # type: ignore[arg-type]
            )
            options = (
                f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            subprocess.run(
                self._as_owner(
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self._dir / "log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ),
                **run,  # type: ignore[arg-type]
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = getattr(error, "stderr", b"") or b""
            self._cleanup()
            reason = detail.decode(errors="replace")[:300]
            raise PostgresUnavailable(f"could not start PostgreSQL: {error} {reason}") from None

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._dir is not None and self._bin is not None:
            subprocess.run(
                self._as_owner(
                    str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate", "stop"
                ),
                capture_output=True,
                timeout=30,
            )
        self._cleanup()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
