"""Real bot replicas (`python -m bot run` processes) behind one balancer, for tests and benchmarks.

Each replica has its own port and DATA_DIR (nothing on disk is shared, as on separate hosts) and all
share one DATABASE_URL, token, key and PUBLIC_URL, the balancer's address.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, free_port

_KEPT = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")


def replica_environment(
    *,
    data_dir: Path,
    port: int,
    database_url: str,
    public_url: str,
    telegram_url: str,
    provider_url: str,
    **extra: str,
) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in _KEPT}
    return {
        **keep,
        "TELEGRAM_BOT_TOKEN": EMULATOR_BOT_TOKEN,
        "TELEGRAM_API_URL": telegram_url,
        "SUNO_API_KEY": EMULATOR_API_KEY,
        "SUNO_API_URL": provider_url,
        "SUNO_UPLOAD_URL": provider_url,
        "PUBLIC_URL": public_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "DATABASE_PATH": str(data_dir / "unused.sqlite3"),
        "TELEGRAM_CHAT_INTERVAL": "0.25",
        "SUNO_POLL_INTERVAL": "30",
        **extra,
    }


class Replica:
    """One `python -m bot run` process; its output goes to `log_path` (read it when a test fails)."""

    def __init__(self, name: str, folder: Path, environment: dict[str, str], port: int) -> None:
        self.name = name
        self.folder = folder
        self.port = port
        self.environment = environment
        self.log_path = folder / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=self.folder,  # no .env here: only the variables given
                env=self.environment,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_healthy(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise RuntimeError(f"replica {self.name} exited: {self.output()[-3000:]}")
                try:
                    async with session.get(f"{self.url}/healthz") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"replica {self.name} not healthy within {timeout} s: {self.output()[-3000:]}"
                    )
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no clean stop, no flush, as a crashed host."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 40.0) -> int | None:  # noqa: ASYNC109
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def make_replicas(
    count: int,
    folder: Path,
    *,
    database_url: str,
    public_url: str,
    telegram_url: str,
    provider_url: str,
    **extra: str,
) -> list[Replica]:
    replicas = []
    for index in range(count):
        name = f"replica-{index}"
        port = free_port()
        environment = replica_environment(
            data_dir=folder / name,
            port=port,
            database_url=database_url,
            public_url=public_url,
            telegram_url=telegram_url,
            provider_url=provider_url,
            **extra,
        )
        replicas.append(Replica(name, folder / name, environment, port))
    return replicas
