"""The Makefile explains itself (`make help`), and its benchmarks write bench/RESULTS.md only when asked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith(".PHONY:"))
    return line.removeprefix(".PHONY:").split()


def test_make_help_lists_every_target_with_one_line_each() -> None:
    lines = make("help").splitlines()
    described = {}
    for line in lines:
        match = re.fullmatch(r"  make (\S+)\s+(\S.*)", line)
        assert match, f"not a target line: {line!r}"
        described[match[1]] = match[2]
    assert sorted(described) == sorted(phony_targets())
    assert make() == make("help")  # a bare `make` shows the list instead of doing something


def test_make_bench_only_prints_and_bench_record_writes() -> None:
    # A dry run shows the commands: every benchmark runs without --write under `make bench`.
    plain = [line for line in make("-n", "bench").splitlines() if "-m bench." in line]
    recorded = [line for line in make("-n", "bench-record").splitlines() if "-m bench." in line]
    benchmarks = [t for t in phony_targets() if t.startswith("bench-") and t != "bench-record"]
    assert len(plain) == len(recorded) == len(benchmarks) >= 7
    assert not [line for line in plain if "--write" in line]
    assert all(line.rstrip().endswith("--write") for line in recorded)
