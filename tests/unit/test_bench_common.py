"""What every benchmark shares: a run that cannot measure says why in one line and exits with 1."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import pytest

from bench.common import (
    BenchFailed,
    bench_parser,
    context_switches,
    publish,
    rate_within_limit,
    results_file,
    run_bench,
    table,
)


def _parser(monkeypatch: pytest.MonkeyPatch, *argv: str) -> argparse.ArgumentParser:
    monkeypatch.setattr("sys.argv", ["bench.example", *argv])
    return bench_parser("an example")


def test_a_bench_that_cannot_measure_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run(args: argparse.Namespace) -> int:
        raise BenchFailed("3 of 5 tasks were submitted within 60 s")

    with pytest.raises(SystemExit) as exited:
        run_bench(_parser(monkeypatch), run)
    assert exited.value.code == 1
    assert capsys.readouterr().err == "bench.example: 3 of 5 tasks were submitted within 60 s\n"


def test_a_bench_exits_with_what_its_run_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run(args: argparse.Namespace) -> int:
        return 0 if not args.write else 2

    with pytest.raises(SystemExit) as exited:
        run_bench(_parser(monkeypatch), run)
    assert exited.value.code == 0


def test_a_bench_prints_its_table_and_writes_the_results_only_with_write(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n", encoding="utf-8")
    figures = table("Example", [("figure", "1.0 ms", "a note")])

    args = _parser(monkeypatch, "--results", str(results)).parse_args()
    publish("example", figures, results_file(args))
    assert "| figure | 1.0 ms | a note |" in capsys.readouterr().out
    assert results.read_text(encoding="utf-8") == "# Benchmark results\n"  # a plain run changes nothing

    args = _parser(monkeypatch, "--results", str(results), "--write").parse_args()
    publish("example", figures, results_file(args))
    written = results.read_text(encoding="utf-8")
    assert written.startswith("# Benchmark results\n")
    assert "<!-- bench:example -->\n### Example" in written and "| figure | 1.0 ms | a note |" in written


def test_a_rate_that_fills_every_window_to_the_limit_measures_the_limit() -> None:
    # 30 calls at the start of each of 5 one-second windows: the most a limit of 30/s allows.
    bursts = [second + i / 1000 for second in range(5) for i in range(30)]
    assert rate_within_limit(bursts) == pytest.approx(30, rel=0.01)


def test_no_sender_within_the_limit_measures_more_than_the_limit() -> None:
    # Evenly spaced at exactly the limit: the last window is only partly used, so a little less.
    evenly = [i / 30 for i in range(1500)]
    assert rate_within_limit(evenly) == pytest.approx(1500 / (1499 / 30 + 1))
    assert 0.98 * 30 < rate_within_limit(evenly) < 30
    assert rate_within_limit([5.0]) == 1.0
    assert rate_within_limit([]) == 0.0


def test_a_second_left_unused_shows_in_the_rate() -> None:
    times = [second + i / 1000 for second in (0, 2) for i in range(30)]  # nothing in the second one
    assert rate_within_limit(times) == pytest.approx(20, rel=0.02)


def test_context_switches_count_a_thread_waking_up() -> None:
    before = context_switches()
    waits = threading.Thread(target=lambda: [time.sleep(0.001) for _ in range(20)])
    waits.start()
    waits.join()
    assert context_switches() >= before + 20


def test_the_table_says_when_it_was_measured() -> None:
    text = table("Example", [("a", "1", "")], ["result: PASS."], date="2026-12-01")
    assert text.splitlines()[2].endswith("Measured 2026-12-01.")
    assert "Measured" not in table("Example", [("a", "1", "")])
