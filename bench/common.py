"""What every benchmark shares: the emulators in a child process, the bot in this one, and the figures.

Only the bot runs in the benchmark's own process (load generators and emulators run in child processes),
so `time.process_time()` and the peak resident set size (VmHWM) measured here are the bot's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp

RESULTS = Path(__file__).with_name("RESULTS.md")
_ROOT = Path(__file__).resolve().parent.parent


# ---- process measurements ----------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    value = _status_kb("VmRSS")
    return (value or 0) / 1024


def peak_rss_mb() -> float:
    value = _status_kb("VmHWM")
    if value is None:  # not Linux: ru_maxrss is in kB on Linux, bytes on macOS
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return value / 1024


def reset_peak_rss() -> bool:
    """Start a new peak from the current RSS (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cores() -> int:
    return os.cpu_count() or 1


def context_switches() -> int:
    """Voluntary context switches of this process so far, every thread (ended ones too): how often
    something woke up after waiting, a timer or a trip to one of SQLite's threads."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def rate_within_limit(times: Sequence[float], window: float = 1.0) -> float:
    """Calls a second over the span they cover, the way a limit of so many per `window` counts them.

    Calls from `first` to `last` can, at the most, fill the windows that start at `first`, `first +
    window`, ... up to `last`: so the span is counted as `last - first + window`, and a sender that
    used every window to the limit measures exactly the limit (not more, however the calls were
    grouped inside each window).
    """
    if not times:
        return 0.0
    return len(times) / (max(times) - min(times) + window)


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    for name in ("bot", "handlers", "storage", "telegram", "httpx", "aiohttp", "apscheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---- the figure table --------------------------------------------------------------------------------


Row = tuple[str, str, str]


def machine_line() -> str:
    return (
        f"{cores()} cores (nproc), {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def table(title: str, rows: Sequence[Row], notes: Sequence[str] = (), *, date: str | None = None) -> str:
    measured = f" Measured {date}." if date else ""
    lines = [
        f"### {title}",
        "",
        f"Machine: {machine_line()}.{measured}",
        "",
        "| figure | value | note |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    if notes:
        lines.append("")
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def publish(name: str, text: str, results: Path | None) -> None:
    """Print the table; with a `results` file, also replace this benchmark's section in it."""
    print()
    print(text)
    if results is None:
        return
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    current = results.read_text(encoding="utf-8") if results.exists() else _RESULTS_HEADER
    section = f"{begin}\n{text}{end}"
    if begin in current and end in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        current = head + section + tail
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(current, encoding="utf-8")


_RESULTS_HEADER = """# Benchmark results

Written by `make bench-record` (each `python -m bench.<name> --write` replaces its own section). Every
figure of a table comes from one run, measured side by side; ratios matter more than absolute times.
"""


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ---- the emulators in a child process ------------------------------------------------------------------


class EmulatorProcess:
    """`python -m bench.emulator_process` as a child; talks to its control API over loopback."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.process: asyncio.subprocess.Process | None = None
        self.telegram_url = self.provider_url = self.control_url = ""
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> EmulatorProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.emulator_process",
            json.dumps(self.config),
            stdout=asyncio.subprocess.PIPE,
            cwd=_ROOT,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the emulator process exited before it started")
        urls = json.loads(line)
        self.telegram_url, self.provider_url = urls["telegram"], urls["provider"]
        self.control_url = urls["control"]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._http is not None:
                with suppress(aiohttp.ClientError, TimeoutError):
                    await self.post("/stop", {})
                await self._http.close()
        finally:
            if self.process is not None:
                try:
                    await asyncio.wait_for(self.process.wait(), 15)
                except TimeoutError:
                    self.process.kill()  # our own child, by its handle
                    await self.process.wait()

    async def get(self, path: str, **params: str) -> Any:
        assert self._http is not None
        async with self._http.get(self.control_url + path, params=params) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: Any) -> Any:
        assert self._http is not None
        async with self._http.post(self.control_url + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def wait_until(
        self, path: str, predicate: Callable[[Any], bool], *, within: float, every: float = 0.25
    ) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = await self.get(path)
            if predicate(value):
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: condition not met within {within:g}s; last: {value!r:.600}")
            await asyncio.sleep(every)


@asynccontextmanager
async def bot_against(emulators: EmulatorProcess, data_dir: Path, **overrides: Any) -> AsyncIterator[Any]:
    """The real bot (web server, PTB, storage) in this process, pointed at the emulators."""
    from emulators.harness import emulator_settings, running_bot

    overrides.setdefault("SUNO_POLL_INTERVAL", 3600)
    settings = emulator_settings(
        data_dir, telegram_url=emulators.telegram_url, provider_url=emulators.provider_url, **overrides
    )
    async with running_bot(settings) as running:
        yield running


class BenchFailed(Exception):
    """A benchmark could not measure what it set out to (the message says why); exits with 1."""


TELEGRAM_GLOBAL_WINDOW = 1.0  # Telegram counts its ~30 messages a second over one second


async def tasks_in_flight(
    bot: Any, emulators: EmulatorProcess, *, count: int, first_user: int, text: str
) -> list[tuple[int, int, str]]:
    """Have `count` people each start a task, and wait until all are submitted and quiet.

    Returns (task id, chat id, provider task id) in task order. Each person costs two Telegram calls (the
    progress message, then its edit once submitted), paced below 30 a second, so the wait allows a
    tenth of a second a person; it ends once Telegram's one-second window has emptied, so what is
    measured next does not queue behind these calls.
    """
    await emulators.post("/people", {"first_user": first_user, "count": count, "spread": 1.0, "text": text})
    within = 60 + count / 10
    db = bot.services.storage.db
    deadline = time.monotonic() + within
    while True:
        row = await db.fetchone("SELECT COUNT(*) FROM tasks WHERE provider_task_id IS NOT NULL")
        if row and row[0] >= count:
            break
        if time.monotonic() > deadline:
            raise BenchFailed(f"{row[0] if row else 0} of {count} tasks were submitted within {within:.0f} s")
        await asyncio.sleep(0.2)
    try:
        await asyncio.wait_for(bot.services.tasks.idle(), max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        late = f"the progress messages of {count} tasks were not out within {within:.0f} s"
        raise BenchFailed(late) from None
    await asyncio.sleep(TELEGRAM_GLOBAL_WINDOW)
    rows = await db.fetchall("SELECT id, chat_id, provider_task_id FROM tasks ORDER BY id")
    return [(task_id, chat_id, provider_task_id) for task_id, chat_id, provider_task_id in rows]


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The command line every benchmark shares: its own options are added by the caller."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Printing is the default: a run on someone's laptop must not rewrite the figures in the checkout.
    parser.add_argument(
        "--write", action="store_true", help="also replace this benchmark's section of the results file"
    )
    parser.add_argument("--results", default=str(RESULTS), help="the Markdown file --write updates")
    parser.add_argument(
        "--date", default=datetime.date.today().isoformat(), help="the day the results are recorded as"
    )
    return parser


def results_file(args: argparse.Namespace) -> Path | None:
    """Where `publish` writes the table: the results file with --write, nowhere without."""
    return Path(args.results) if args.write else None


def run_bench(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], Any]) -> None:
    args = parser.parse_args()
    try:
        code = asyncio.run(run(args))
    except BenchFailed as failure:
        print(f"{parser.prog}: {failure}", file=sys.stderr)
        code = 1
    raise SystemExit(code)
